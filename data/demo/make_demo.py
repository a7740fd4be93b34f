#!/usr/bin/env python3
"""Build the storyhash demo corpus.

Run from the repository root:

    python3 data/demo/make_demo.py

It writes data/demo/articles.jsonl and data/demo/labels.csv (byte-identical on
every run) and prints the near-duplicate checks used in data/demo/README.md.

The corpus imitates a scraped news feed: a set of ORIGINAL articles (written
for this demo and held below as Python data) is published by fictional news
sites, each of which wraps every article it publishes in its own boilerplate
lines. Wire copies re-publish an original on other sites with a new headline,
1-4 single-word edits and sometimes the last paragraph trimmed. Follow-ups are
new articles about the same story. Only the Kim Yong-chol pair (story s01)
describes real events; everything else is fiction.

Standard library only; all randomness comes from fixed seeds.
"""

import csv
import io
import itertools
import json
import os
import random
import re
import sys
import unicodedata

SEED = 20180530
HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Sites and their boilerplate. Every line here is added verbatim to every
# article the site publishes (header lines first, "mid" line after paragraph
# `mid_after` when the article is long enough, footer lines last).
# ---------------------------------------------------------------------------

SITES = {
    "dailyherald.example": {
        "header": [
            "Daily Herald | Local news since 1921",
            "Home › News › Latest",
        ],
        "mid_after": 3,
        "mid": "Advertisement",
        "footer": [
            "Subscribe to our newsletter for the morning briefing",
            "Image copyright: Staff photographer",
            "Leave a Reply",
            "Your email address will not be published. Required fields are marked *",
        ],
        "url": "https://www.dailyherald.example/news/{section}/{y}/{m}/{d}/{slug}/",
    },
    "northgatepost.example": {
        "header": [
            "The Northgate Post — Independent journalism for the north",
        ],
        "mid_after": 2,
        "mid": "Story continues below advertisement",
        "footer": [
            "Share this article on Facebook Twitter Email",
            "Related Topics",
            "© Northgate Post Media Group. All rights reserved.",
        ],
        "url": "https://northgatepost.example/{section}/{slug}-{num}",
    },
    "worldwire.example": {
        "header": [
            "WorldWire News Service",
            "Media playback is unsupported on your device",
        ],
        "mid_after": 4,
        "mid": "Image caption: File photo",
        "footer": [
            "More on this story",
            "Follow WorldWire on Twitter and Facebook for the latest updates",
            "Copyright WorldWire. This material may not be published, broadcast, rewritten or redistributed.",
        ],
        "url": "https://worldwire.example/articles/{y}{m}{d}-{num}/{slug}",
    },
    "metrotimes.example": {
        "header": [
            "METRO TIMES ONLINE — Breaking news, sport and entertainment",
        ],
        "mid_after": 2,
        "mid": "Advertisement - scroll to continue reading",
        "footer": [
            "Read more: Top stories this week",
            "Comments are closed.",
            "Metro Times is not responsible for the content of external sites.",
        ],
        "url": "https://www.metrotimes.example/{y}/{m}/{d}/{section}/{slug}.html",
    },
    "coastalgazette.example": {
        "header": [
            "The Coastal Gazette | Serving the bay communities",
            "Print this page",
        ],
        "mid_after": None,
        "mid": None,
        "footer": [
            "Got a news tip? Email newsdesk@coastalgazette.example or call our newsroom",
            "Sign up for breaking news alerts",
            "Photo: Gazette files",
        ],
        "url": "https://coastalgazette.example/{section}/article_{num}.html",
    },
    "capitalledger.example": {
        "header": [
            "Capital Ledger — Politics, Business, Markets",
        ],
        "mid_after": 5,
        "mid": "Click here to get our app for the latest market updates",
        "footer": [
            "This article was produced by the Ledger newsroom and edited by the news desk.",
            "Copyright © Capital Ledger. All rights reserved.",
            "Share this: Facebook | LinkedIn | Email",
        ],
        "url": "https://capitalledger.example/{section}/{y}/{m}/{slug}",
    },
    "valleyobserver.example": {
        "header": [
            "Valley Observer | News, sport and weather from the valley",
        ],
        "mid_after": None,
        "mid": None,
        "footer": [
            "Share this: Facebook | X | WhatsApp",
            "Photo: Supplied",
            "Have your say in the comments below",
            "Like what you read? Support local journalism from $1 a week",
        ],
        "url": "https://valleyobserver.example/{section}/{slug}?id={num}",
    },
}

# ---------------------------------------------------------------------------
# Stories (label -> short description) and original articles.
#
# Each original: key, story, site, date, section, title, paras, copies.
# copies: list of (site, rewritten title, trim_last_paragraph, days_later).
# ---------------------------------------------------------------------------

STORIES = {
    "s01": "World: North Korean envoy Kim Yong-chol's trips to the US (2018 and 2019)",
    "s02": "Crime: fatal shooting on Calloway Street, Riverton (hard negative of s03)",
    "s03": "Crime: three wounded outside a Lakeport bar (hard negative of s02)",
    "s04": "Disaster: magnitude 6.3 earthquake in southern Peru (hard negative of s05)",
    "s05": "Disaster: magnitude 5.9 earthquake on Seram, Indonesia (hard negative of s04)",
    "s06": "Politics: Northgate city budget, tax rise and bus cuts",
    "s07": "Business: Hartwell Foods closes its Millbrook plant",
    "s08": "Weather: Storm Edda floods Port Aldery",
    "s09": "Crime: Marcus Delaney pension fraud trial",
    "s10": "Sport: Tri-County Cup final, Port Aldery Rovers v Northgate City",
    "s11": "Science: near-Earth asteroid 2018 XQ9",
    "s12": "Health: measles outbreak in Eastham schools",
    "s13": "Tech: Brightline Mobile customer data breach",
    "s14": "Local: Old Mill Bridge in Millbrook closed",
    "s15": "Local: Northgate Central Library reopens",
    "s16": "Sport: Port Aldery half marathon",
    "s17": "Culture: Port Aldery jazz festival",
    "s18": "Local: Northgate farmers market moves",
    "s19": "Education: Millbrook teachers' contract",
    "s20": "Transport: Coastline commuter rail strike",
    "s21": "Environment: fish kill in the Sable River",
    "s22": "Obituary: Agnes Thornbury, shelter founder",
}

ORIGINALS = [
    # ------------------------------------------------------------------ s01
    dict(
        key="kim2018", story="s01", site="worldwire.example", date="2018-05-30",
        section="world",
        title="Top North Korean official heads to New York for talks with Pompeo",
        paras=[
            "Kim Yong-chol, one of the most powerful figures in North Korea's leadership, boarded a commercial flight in Beijing on Wednesday bound for New York, where he is expected to meet US Secretary of State Mike Pompeo in a bid to put a planned summit between the two countries' leaders back on track.",
            "South Korea's Yonhap news agency, citing diplomatic sources in the Chinese capital, reported that Kim took a scheduled Air China flight out of Beijing on Wednesday afternoon. Reporters at the airport saw a motorcade carrying North Korean officials arrive at the terminal about an hour before departure.",
            "Kim serves as vice-chairman of the central committee of the ruling Workers' Party and previously headed the Reconnaissance General Bureau, the country's main military intelligence agency. South Korean officials have long blamed that agency for the sinking of the navy corvette Cheonan in 2010, an accusation Pyongyang denies.",
            "If the trip goes ahead as reported, he will be the most senior North Korean official to set foot in the United States in 18 years. The last comparable visit came in 2000, when Vice Marshal Jo Myong-rok travelled to Washington and met President Bill Clinton at the White House.",
            "The talks come less than a week after President Donald Trump abruptly called off the meeting with Kim Jong-un that had been scheduled for June 12 in Singapore, citing what he called open hostility in recent statements from Pyongyang. Within days, however, Trump said preparations were continuing and that the summit could still take place on the original date.",
            "Officials from both sides have since held a flurry of meetings. A US delegation crossed into the demilitarised zone in recent days to talk with North Korean counterparts at the border village of Panmunjom, while a separate team was reported to be in Singapore working on logistics such as security and the choice of venue.",
            "Trump confirmed the trip in a message on Twitter, saying a strong team had been put together for the talks and that he looked forward to the outcome. The State Department did not say where in New York the two men would meet or how long Kim would stay.",
            "Analysts in Seoul said the choice of such a senior envoy signalled that Kim Jong-un was serious about salvaging the summit. “Sending Kim Yong-chol is a message that the North wants a deal and wants it quickly,” said one former South Korean negotiator.",
            "Kim is subject to US sanctions, and his visit is likely to require a special waiver.",
        ],
        copies=[
            ("capitalledger.example", "North Korea's Kim Yong-chol en route to US to meet Pompeo", False, 0),
            ("northgatepost.example", "Senior Pyongyang envoy flies to New York as summit hopes revive", True, 0),
        ],
    ),
    dict(
        key="kim2019", story="s01", site="worldwire.example", date="2019-01-17",
        section="world",
        title="Kim Jong-un's right-hand man flies to Washington as second summit takes shape",
        paras=[
            "North Korea's chief negotiator with the United States left Beijing for Washington on Thursday, setting the stage for talks that could settle the date and location of a second meeting between Kim Jong-un and Donald Trump.",
            "Kim Yong-chol, a former spymaster who once ran the army's intelligence operations and now sits as a deputy chairman of the party's central committee, was seen at Beijing Capital International Airport checking in for a flight to the American capital, according to Japanese and South Korean media.",
            "He is scheduled to sit down with Mike Pompeo on Friday. Several outlets in Seoul, quoting unnamed people familiar with the plans, said Kim may also be received by Trump in the Oval Office and could hand over a new personal letter from the North Korean leader.",
            "Negotiations have largely stalled since the two leaders shook hands in Singapore last June and signed a short statement committing to work toward the complete denuclearisation of the Korean peninsula. Washington wants Pyongyang to disclose and dismantle its weapons programmes before sanctions are lifted, while the North insists on step-by-step concessions and an end to what it calls hostile policy.",
            "Trump has repeatedly said he expects to meet Kim again soon, and officials in several capitals have pointed to Vietnam as the front-runner to host the event. Hanoi and the coastal city of Da Nang, which held an Asia-Pacific leaders' gathering in 2017, have both been mentioned as possible sites.",
            "Vietnam is seen as an attractive choice because it maintains diplomatic ties with both countries and is often held up by Washington as an example of a former enemy that has prospered after opening its economy.",
            "This will be Kim Yong-chol's second visit to America. In the spring of last year he spent several days in New York for a series of meetings with Pompeo and later went on to Washington, where he delivered an oversized envelope containing a letter from Kim Jong-un to the president.",
            "Diplomats said the stakes this time were higher. “Both sides need something concrete to show at the next summit, otherwise the process risks losing momentum,” a Seoul-based official said on condition of anonymity.",
            "The White House declined to comment on whether Trump would see the envoy.",
        ],
        copies=[
            ("capitalledger.example", "Kim Yong-chol heads to Washington for talks on second Trump-Kim summit", False, 0),
        ],
    ),
    # ------------------------------------------------------------------ s02
    dict(
        key="shoot_riverton", story="s02", site="dailyherald.example", date="2018-07-14",
        section="crime",
        title="Man killed, woman wounded in Riverton shooting",
        paras=[
            "A 34-year-old man was killed and a woman was wounded in a shooting on Calloway Street in Riverton late on Friday night, police said.",
            "Officers were called to the 1400 block of Calloway Street at about 11:40 p.m. after several residents reported hearing gunshots. They found the man lying on the sidewalk outside a convenience store with a gunshot wound to the chest. He was taken to Riverton General Hospital, where he was pronounced dead shortly after midnight.",
            "A 29-year-old woman who had been standing nearby was struck in the leg. Her injuries were described as not life-threatening.",
            "Police have not released the name of the man who died, saying his relatives had yet to be informed. Detective Sergeant Laura Benning said investigators believed the victims had been targeted by a gunman who fled on foot toward Mercer Avenue.",
            "“This was not a random act,” Benning told reporters at the scene on Saturday morning. “We believe the person responsible knew at least one of the victims.”",
            "No arrests had been made and the investigation is continuing, police said. Crime scene technicians spent several hours examining the area, and a section of Calloway Street remained closed to traffic until mid-morning.",
            "It was the fourth fatal shooting in Riverton this year. Anyone with information is asked to call the police tip line or Crime Stoppers, where callers can remain anonymous.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s03
    dict(
        key="shoot_lakeport", story="s03", site="metrotimes.example", date="2018-09-02",
        section="crime",
        title="Three injured as gunfire erupts outside Lakeport bar",
        paras=[
            "Three people were injured when gunfire broke out in the parking lot of a bar on Harbor Road in Lakeport early on Sunday, according to police.",
            "Lakeport police said officers on patrol nearby heard around a dozen shots at roughly 2:15 a.m. and arrived to find two men and a woman with gunshot wounds. All three were taken to St. Brendan's Medical Center. One of the men, aged 41, was in critical condition on Sunday evening, while the other two victims, aged 22 and 25, were expected to recover.",
            "Witnesses told investigators that an argument had started inside the Anchor Tap shortly before closing time and spilled outside as customers were leaving. At least two people are believed to have fired weapons, said Lieutenant Marco Ruiz, a department spokesman.",
            "“We have multiple shell casings of different calibers at the scene, which tells us there was more than one shooter,” Ruiz said. “We are asking anyone who was in the bar last night to come forward, even if they think what they saw was unimportant.”",
            "A dark-colored pickup truck was seen leaving the lot at high speed and heading north on Route 9, police said. Detectives were reviewing footage from security cameras at the bar and at a gas station across the street.",
            "The bar's owner, Denise Kowalczyk, said staff had called 911 as soon as the fighting began. “We've been here for twenty years and never had anything like this,” she said. The business will stay closed until further notice.",
            "City council member Arthur Lyle, whose district includes Harbor Road, said he would ask the police chief to increase patrols in the area on weekend nights. Residents have complained about late-night noise and fights near the waterfront bars for months.",
            "Anyone with information is asked to call the police tip line or Crime Stoppers, where callers can remain anonymous. No arrests had been made and the investigation is continuing, police said.",
        ],
        copies=[
            ("dailyherald.example", "Lakeport police seek shooters after three wounded at Harbor Road bar", False, 0),
        ],
    ),
    # ------------------------------------------------------------------ s04
    dict(
        key="quake_peru", story="s04", site="worldwire.example", date="2018-08-21",
        section="world",
        title="Magnitude 6.3 earthquake strikes southern Peru, killing at least four",
        paras=[
            "A magnitude 6.3 earthquake struck the southern Andes of Peru on Tuesday morning, killing at least four people and damaging hundreds of adobe homes in remote mountain villages, officials said.",
            "The United States Geological Survey said the quake hit at 6:52 a.m. local time at a depth of 38 kilometers, about 60 kilometers northeast of the town of Chaupiyoc in the Arequipa region. Shaking was felt as far away as the regional capital, where residents ran into the streets in their nightclothes.",
            "Peru's National Civil Defense Institute said two of the dead were an elderly couple whose house collapsed in the village of Huaylla Alta. A child was killed by a falling wall in a neighboring district, and a farmer died when a landslide swept across a mountain track.",
            "At least 37 people were injured. Several roads into the affected area were blocked by rockfalls, slowing the arrival of rescue teams and supplies. Rescue teams were searching damaged buildings for anyone who might be trapped, officials said.",
            "“Many families have lost everything and are sleeping outdoors in the cold,” said regional governor Elmer Quispe Mamani, who flew over the area by helicopter. “We need tents, blankets and water as quickly as possible.”",
            "“Todo empezó a moverse y las paredes se vinieron abajo”, contó una vecina de Huaylla Alta a una radio local.",
            "(“Everything started moving and the walls came down,” a resident of Huaylla Alta told a local radio station.)",
            "Night-time temperatures in the highlands can fall well below freezing at this time of year, raising concern for the hundreds of people left homeless. The cabinet declared a 60-day state of emergency in five provinces and approved emergency funds for shelter and food.",
            "Peru sits on the Pacific Ring of Fire, a zone of frequent earthquakes and volcanic eruptions around the edges of the Pacific Ocean. A magnitude 8.0 quake near the coastal city of Pisco in 2007 killed more than 500 people.",
            "Aftershocks continued through the day, the strongest measuring 4.8.",
        ],
        copies=[
            ("valleyobserver.example", "Deadly quake shakes Peru's southern highlands", True, 1),
        ],
    ),
    # ------------------------------------------------------------------ s05
    dict(
        key="quake_indonesia", story="s05", site="worldwire.example", date="2018-11-05",
        section="world",
        title="Shallow quake rattles eastern Indonesia; two dead, dozens hurt",
        paras=[
            "Two people died and dozens were hurt when a shallow earthquake of magnitude 5.9 shook the island of Seram in Indonesia's Maluku province on Monday evening, disaster officials said.",
            "The Meteorology, Climatology and Geophysics Agency, known as BMKG, recorded the tremor at 7:18 p.m. local time. Its epicenter lay offshore, roughly 25 kilometers south of the fishing town of Waitomu, at a depth of only 10 kilometers. The agency said there was no threat of a tsunami.",
            "A woman was crushed when the roof of a market stall fell in Waitomu, and a man died after being hit by debris from a mosque minaret, said Ahmad Latuconsina, head of the district disaster office. At least 41 people were treated for injuries, most of them minor.",
            "More than 300 buildings, including two schools and a health clinic, suffered cracks or partial collapses. Electricity was cut across much of the south coast for several hours. Rescue teams were searching damaged buildings for anyone who might be trapped, officials said.",
            "Many residents spent the night on higher ground, fearful of a tsunami despite official reassurances. Memories remain fresh of the disaster in Central Sulawesi in September, when a powerful quake and the waves that followed killed more than 2,000 people.",
            "“The shaking was very strong, maybe ten seconds, and everyone ran outside,” said Yosef Tuhumury, a teacher in Waitomu. “Now we are afraid to go back into our houses.”",
            "Indonesia, an archipelago of more than 17,000 islands, sits on the Pacific Ring of Fire, a zone of frequent earthquakes and volcanic eruptions around the edges of the Pacific Ocean. BMKG said it had recorded more than 20 aftershocks by midnight.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s06
    dict(
        key="budget", story="s06", site="dailyherald.example", date="2018-02-27",
        section="politics",
        title="Northgate council approves budget with 3.5% property tax rise",
        paras=[
            "Northgate City Council on Monday night approved a $412 million budget for the coming fiscal year that raises property taxes by 3.5 percent and eliminates four little-used bus routes, ending weeks of sometimes heated debate.",
            "The spending plan passed by a vote of 7 to 4 after a session that stretched past midnight. More than 150 residents packed the council chamber at City Hall, and dozens signed up to speak during the public comment period, most of them opposed to the bus cuts.",
            "Mayor Helen Okafor, who proposed the budget in January, said the city had little choice after two years of falling revenue from sales taxes and rising costs for pensions and health insurance. She described the tax increase as painful but necessary.",
            "“Nobody on this council wanted to raise taxes,” Okafor said after the vote. “But the alternative was laying off firefighters and closing a library branch, and I was not willing to do that.”",
            "For the owner of a typical home assessed at $240,000, the increase will add about $96 a year to the tax bill, according to figures from the city finance department. Commercial property owners will see a similar percentage rise.",
            "The budget sets aside $18.5 million for road repairs, an increase of nearly a third, and funds 12 new police officer positions. It also includes a 2 percent pay raise for most city employees, the first in three years.",
            "The four bus routes to be cut — the 14, 22, 31 and 47 — carry an average of fewer than 200 passengers a day combined, according to the Northgate Transit Authority. Ending them will save roughly $2.1 million a year.",
            "Council member Ray Delgado, who voted against the plan, said the route cuts would fall hardest on elderly residents and low-income workers in the Eastham and Fairview neighborhoods. “These are people who do not have a car and do not have another way to get to the grocery store or the clinic,” he said.",
            "Transit advocates said they would press the council to reconsider before the cuts take effect on July 1.",
            "The budget takes effect when the new fiscal year begins on April 1.",
        ],
        copies=[
            ("northgatepost.example", "Okafor calls tax rise \"painful but necessary\" as budget passes", False, 0),
            ("capitalledger.example", "Northgate passes $412 million budget, cuts four bus routes", True, 0),
            ("metrotimes.example", "Property taxes up 3.5% in Northgate after late-night council vote", False, 0),
            ("coastalgazette.example", "Northgate budget vote: what the tax increase means for homeowners", True, 1),
            ("valleyobserver.example", "Bus routes axed as Northgate council backs mayor's spending plan", False, 1),
        ],
    ),
    dict(
        key="buses", story="s06", site="northgatepost.example", date="2018-04-10",
        section="politics",
        title="Council restores two bus routes after Eastham residents' campaign",
        paras=[
            "Two of the four Northgate bus lines that were scheduled to disappear this summer have been given a reprieve, after a campaign led by pensioners and shift workers in Eastham persuaded city leaders to find the money to keep them running.",
            "At a special meeting on Tuesday, council members voted 9 to 2 to move $1.05 million from a reserve fund to keep routes 14 and 31 in service until at least the end of next year. Routes 22 and 47 will still be discontinued on July 1 as planned.",
            "The reversal came after a petition signed by more than 6,800 people was delivered to City Hall last month, along with a survey showing that many riders on the two lines had no access to a car. Organizers also staged a series of “ride-ins”, filling buses on the threatened routes during morning rush hour to show they were needed.",
            "“We were told these buses were empty. We proved they weren't,” said Gloria Mensah, 71, a retired nurse from Eastham who helped collect signatures outside supermarkets and churches. “I'm grateful, but I'm also thinking about the people on the 22 and the 47 who are still going to lose their bus.”",
            "Mayor Helen Okafor, whose February budget included the cuts, supported the compromise. She said ridership counts used by the transit authority had been taken during a winter month when usage was unusually low, and that new figures suggested the two routes carried closer to 350 passengers on an average weekday.",
            "Council member Ray Delgado, a critic of the original plan, welcomed the vote but said it did not go far enough. He plans to introduce a motion next month asking the transit authority to study a smaller on-demand service, using minibuses, for the neighborhoods that will lose routes 22 and 47.",
            "The money for the reprieve will come from a fund the city normally uses for unexpected repairs to public buildings. Finance director Paul Hsu told the council the fund would still hold about $3 million after the transfer, which he described as adequate.",
            "The transit authority said it would publish revised timetables in June.",
        ],
        copies=[
            ("dailyherald.example", "Routes 14 and 31 saved as council backs down on bus cuts", False, 0),
            ("metrotimes.example", "Petition wins reprieve for two Northgate bus lines", True, 1),
        ],
    ),
    dict(
        key="auditor", story="s06", site="capitalledger.example", date="2018-10-16",
        section="politics",
        title="Audit finds Northgate overspent on road repairs despite tax rise",
        paras=[
            "Northgate is on track to overspend its road maintenance budget by about $2.7 million this year, according to a report from the city's independent auditor, raising fresh questions about the financial plan that Mayor Helen Okafor pushed through in February.",
            "The report, released on Tuesday, found that several paving contracts had been awarded without competitive bidding because of what the public works department called emergency conditions after a harsh winter. Auditor Janet Whitcombe wrote that the department had used the emergency provision 'far more broadly than the city code intends'.",
            "In all, 11 contracts worth a combined $6.4 million were signed under the exemption, compared with two the year before.",
            "Okafor said in a statement that potholes had posed a genuine danger to drivers and cyclists and that delays would have cost more in the long run. She added that she had asked the city manager to tighten the rules and report back by December.",
            "Opponents of this year's 3.5 percent property tax increase seized on the findings. Council member Ray Delgado said residents had been promised the extra revenue would be spent carefully. 'People paid more and they deserve to know their money isn't being wasted,' he said.",
            "The audit did not find evidence of fraud. It recommended that the council require a public vote on any emergency contract worth more than $250,000.",
            "The council's finance committee will discuss the report at its next meeting on October 29.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s07
    dict(
        key="hartwell", story="s07", site="valleyobserver.example", date="2018-03-08",
        section="business",
        title="Hartwell Foods to close Millbrook plant, cutting 420 jobs",
        paras=[
            "Hartwell Foods will close its frozen vegetable processing plant in Millbrook by the end of September, eliminating 420 jobs in what local officials called the biggest blow to the valley's economy in a generation.",
            "The company told employees at a meeting on Thursday morning that production would be moved to its larger, more automated facilities in Ohio and Georgia. Workers were handed letters outlining severance terms as they left the canteen, several of them said.",
            "In a statement, Hartwell's chief executive, Douglas Fairbairn, said the Millbrook site had become too expensive to modernize. “This decision has nothing to do with the dedication of our people in Millbrook, who have been part of the Hartwell family for decades,” he said. “It reflects the reality of a very competitive market.”",
            "The plant opened in 1958 and at its peak in the 1980s employed more than 1,100 people, processing peas, beans and sweet corn grown by farmers across the valley. Hartwell was bought by a private equity firm, Stonebridge Capital Partners, in 2015.",
            "Local farmers said the closure would leave them scrambling for new buyers. About 60 growers in the area have supply contracts with the plant, according to the Millbrook County Farm Bureau. “Some of these families have sold to Hartwell for three generations,” said bureau president Tom Eklund. “There's no other processor within 200 miles.”",
            "Millbrook mayor Sandra Pryce said she had asked the state economic development agency to send a rapid response team to help laid-off workers find jobs and retraining. She also said the town would try to find a new owner for the building.",
            "“We are not going to give up on that plant,” Pryce said. “It has good bones, it has rail access and it has a skilled workforce right on its doorstep.”",
            "The union representing about 300 of the workers said it would seek talks on enhanced severance and on extending health coverage. Union steward Carla Jiménez, who has worked at the plant for 19 years, said many of her colleagues were in their fifties and worried about finding other work.",
            "Hartwell said employees would receive at least 12 weeks' pay.",
        ],
        copies=[
            ("capitalledger.example", "Hartwell Foods shuts Millbrook processing plant; 420 to lose jobs", False, 0),
            ("dailyherald.example", "Millbrook reels as frozen food plant announces closure", True, 0),
            ("worldwire.example", "US food processor Hartwell to close valley plant, move work to Ohio and Georgia", False, 0),
            ("coastalgazette.example", "420 jobs lost as Hartwell closes Millbrook factory", True, 1),
        ],
    ),
    dict(
        key="hartwell_sale", story="s07", site="capitalledger.example", date="2018-06-19",
        section="business",
        title="Farmer-owned cooperative agrees to buy shuttered Hartwell site",
        paras=[
            "A group of vegetable growers in the Millbrook valley has agreed to buy the Hartwell Foods processing plant that the company is closing this autumn, a deal expected to preserve about 180 of the 420 jobs that were due to disappear.",
            "The newly formed Valley Growers Cooperative, whose 48 members include many of the farms that supplied Hartwell, will pay $9.2 million for the building, its cold storage warehouses and part of the equipment, according to documents filed with the county on Monday. The state has pledged a $3 million low-interest loan to help finance the purchase.",
            "Tom Eklund, who leads the Millbrook County Farm Bureau and chairs the cooperative's board, said the farmers had been unwilling to watch the only processor in the region disappear. “We grow the crops. We figured we might as well own the place that freezes them,” he said.",
            "The cooperative plans to restart production in early 2019 with a smaller line focused on frozen peas and green beans, sold mainly to schools, hospitals and regional grocery chains. Eklund said it hoped to hire former Hartwell staff first.",
            "Two out-of-state companies had toured the site in April but decided not to bid, citing the cost of replacing aging refrigeration systems. The cooperative's business plan sets aside $1.5 million for that work.",
            "Hartwell Foods confirmed the sale but declined to discuss financial details. The company has said it will complete the transfer of production to its plants in Ohio and Georgia by the end of September.",
            "Carla Jiménez, a union steward who has worked on the plant's packing line for 19 years, said the news was bittersweet. “It's not everyone, and it won't be the same pay at first,” she said. “But it's a lot better than a padlock on the gate.”",
            "Mayor Sandra Pryce, who spent months courting potential buyers, called the agreement a turning point. State officials said the loan came from a fund set up to support rural manufacturing.",
            "The deal is expected to close in August.",
        ],
        copies=[
            ("valleyobserver.example", "Growers step in to save Hartwell plant and 180 jobs", False, 0),
            ("northgatepost.example", "Valley Growers Cooperative to buy former Hartwell factory for $9.2 million", True, 1),
        ],
    ),
    # ------------------------------------------------------------------ s08
    dict(
        key="storm", story="s08", site="coastalgazette.example", date="2018-10-23",
        section="weather",
        title="Storm Edda batters coast, thousands without power",
        paras=[
            "A powerful autumn storm lashed the coast around Port Aldery overnight, flooding the harbor district, tearing roofs from homes and leaving more than 23,000 households without electricity on Tuesday morning.",
            "Storm Edda brought wind gusts of up to 92 miles per hour at the Aldery Point weather station and dumped nearly six inches of rain in 12 hours, according to the National Weather Service. The high tide at 3 a.m. combined with a storm surge of about four feet pushed seawater over the harbor wall and into streets along the waterfront.",
            "Emergency crews rescued at least 40 people from flooded homes and vehicles, many of them in the low-lying Saltmarsh neighborhood, where water reached the windowsills of some houses. Firefighters used inflatable boats to reach residents trapped on upper floors.",
            "“I've lived on this street for 31 years and I have never seen the water come up this fast,” said Walter Brennan, 68, who was carried from his home by firefighters along with his dog. “One minute the road was wet, the next it was a river.”",
            "No deaths had been reported by midday, but a man in his twenties was in serious condition after a tree fell on his car on Coast Road north of the town. Police closed sections of Coast Road and the Harbor Bridge because of debris and downed power lines.",
            "Coastal Electric Cooperative said crews from neighboring states were on their way to help restore power, but warned that some customers might be in the dark until the weekend. Schools across Port Aldery and the surrounding district were closed for the day.",
            "Mayor Frank DeLuca declared a local state of emergency and opened two shelters, at Port Aldery High School and the community center on Elm Street. About 300 people spent the night there, the Red Cross said.",
            "At the harbor, several fishing boats broke from their moorings and were driven onto the rocks. The harbor master, Ingrid Solberg, said at least a dozen vessels had sunk or been badly damaged. “For some of these families, the boat is their whole livelihood,” she said.",
            "Forecasters said the storm was moving northeast and would weaken through Wednesday, though strong winds and heavy showers could continue along the coast.",
            "The town's recycling center will stay closed until Thursday.",
        ],
        copies=[
            ("worldwire.example", "Storm Edda floods US coastal town, cuts power to 23,000 homes", False, 0),
            ("metrotimes.example", "Dozens rescued as storm surge swamps Port Aldery", True, 0),
            ("dailyherald.example", "Edda: Port Aldery declares emergency after night of flooding", False, 0),
            ("valleyobserver.example", "Storm leaves trail of damage along the coast", False, 1),
            ("northgatepost.example", "Boats sunk, roofs torn off as Storm Edda hits Port Aldery", True, 1),
        ],
    ),
    dict(
        key="storm_cost", story="s08", site="metrotimes.example", date="2018-11-02",
        section="weather",
        title="Port Aldery faces $60 million repair bill after Storm Edda",
        paras=[
            "Ten days after Storm Edda swept through Port Aldery, town officials put the cost of the damage at roughly $60 million and appealed to the state for emergency aid, warning that many flooded homeowners have no insurance cover for rising water.",
            "An assessment presented to the town council on Thursday counted 640 homes and 85 businesses that took on water, most of them in the Saltmarsh district and along the harbor front. Seventy-two properties were declared unsafe to live in until they are repaired.",
            "Mayor Frank DeLuca said only about one household in five in the flood zone held a separate flood policy, which standard homeowners' insurance does not include. “People did the sensible thing with the information they had. The maps told them they weren't at high risk,” he said. “Those maps were clearly wrong.”",
            "The council voted unanimously to ask the governor for a disaster declaration, which would open the door to state grants and low-cost loans. DeLuca said he had also written to the federal emergency management agency.",
            "Repairs to the harbor wall, which was breached in two places, are expected to cost $14 million alone. Engineers said the 1930s structure had been weakened by decades of wave action and should be raised by at least two feet.",
            "The fishing fleet has been hit especially hard. Fourteen boats were lost or damaged beyond repair, and a fundraiser organised by the Port Aldery Fishermen's Association has collected about $210,000 so far. Harbor master Ingrid Solberg said some crews had returned to sea in borrowed vessels.",
            "Walter Brennan, the retired postal worker who was carried from his flooded home on the night of the storm, is living with his daughter in Northgate while contractors strip out wet plaster and flooring. “They tell me it'll be spring before I'm back,” he said.",
            "Power was fully restored on October 28.",
        ],
        copies=[
            ("coastalgazette.example", "Storm Edda damage estimated at $60 million as town seeks state help", False, 0),
            ("capitalledger.example", "Flood-hit Port Aldery asks governor for disaster declaration", True, 0),
            ("valleyobserver.example", "Uninsured homeowners face long recovery after Edda", False, 1),
        ],
    ),
    # ------------------------------------------------------------------ s09
    dict(
        key="trial", story="s09", site="metrotimes.example", date="2018-04-24",
        section="crime",
        title="Financial adviser accused of stealing retirees' savings goes on trial",
        paras=[
            "A Northgate financial adviser accused of stealing more than $3.4 million from elderly clients went on trial on Tuesday, with prosecutors telling jurors he used their savings to pay for a lakeside house, luxury cars and gambling trips.",
            "Marcus Delaney, 52, faces 23 counts including wire fraud, theft from a vulnerable adult and money laundering. He has pleaded not guilty.",
            "In her opening statement, assistant district attorney Priya Raman said Delaney persuaded at least 17 clients, most of them retired schoolteachers and factory workers in their seventies and eighties, to move their savings into what he described as a safe, high-yield fund. The fund did not exist, she said.",
            "“He sat at their kitchen tables, he drank their coffee, and he took their life savings,” Raman told the jury. “And when they asked for statements, he printed fake ones on his office computer.”",
            "Prosecutors say the scheme ran for at least six years and unraveled in 2017, when the daughter of one client noticed that her mother's account had been emptied and contacted the state securities regulator.",
            "Delaney's lawyer, Howard Lim, told jurors that his client had made bad investments during a difficult market but had never intended to defraud anyone. He said Delaney had repaid some clients out of his own pocket and that the prosecution's accounting was “riddled with errors.”",
            "“This is a story about a man who made mistakes, not a story about a thief,” Lim said.",
            "The first witness, 81-year-old Eleanor Pratt, testified that she gave Delaney $212,000 from the sale of her late husband's hardware store. She wept as she described receiving a letter from her bank telling her the account was empty. “I trusted him like a son,” she said.",
            "Judge Anthony Castellano told jurors the trial was expected to last about four weeks. More than 30 witnesses are on the prosecution's list, including forensic accountants and several former employees of Delaney's firm, Delaney Wealth Advisors.",
            "If convicted on all counts, Delaney could face decades in prison.",
        ],
        copies=[
            ("dailyherald.example", "Prosecutors: adviser spent clients' savings on lake house and casinos", False, 0),
            ("northgatepost.example", "Trial of Marcus Delaney opens with tearful testimony from 81-year-old widow", True, 0),
            ("capitalledger.example", "Northgate adviser denies $3.4 million fraud as trial begins", False, 1),
        ],
    ),
    dict(
        key="verdict", story="s09", site="dailyherald.example", date="2018-05-22",
        section="crime",
        title="Jury convicts Marcus Delaney on all counts in pension fraud case",
        paras=[
            "Marcus Delaney, the Northgate investment adviser who took millions of dollars from retired clients, was found guilty on Monday of all 23 charges against him after a jury deliberated for less than a day.",
            "Several of his victims, some using walking frames, sat in the front rows of the courtroom as the verdicts were read. Eleanor Pratt, who lost $212,000, held hands with the woman next to her and closed her eyes. Outside, she said she felt “lighter than I have in two years.”",
            "Delaney, wearing a gray suit, showed no visible reaction. His lawyer, Howard Lim, said he would appeal, arguing that the judge should not have allowed testimony about his client's gambling debts.",
            "Over four weeks the prosecution laid out a paper trail showing that money deposited into what clients believed was an investment fund had gone into Delaney's personal accounts. A forensic accountant testified that about $1.9 million went toward the purchase and renovation of a house on Lake Winsett, while another $600,000 was spent at casinos in three states.",
            "Assistant district attorney Priya Raman said the verdict sent a message to anyone who would exploit older people. “These clients didn't lose their money in the stock market. It was taken from them, one forged statement at a time,” she said.",
            "Judge Anthony Castellano set sentencing for July 19 and ordered Delaney held without bail, citing the risk that he might flee. Prosecutors have said they will seek a sentence of at least 20 years.",
            "The state has frozen Delaney's remaining assets, including the lake house, and officials said they hoped to return part of the money to victims. A court-appointed receiver estimated that clients might eventually recover between 30 and 40 cents on the dollar.",
            "The state securities regulator is reviewing how Delaney's firm passed routine inspections.",
        ],
        copies=[
            ("metrotimes.example", "Delaney guilty of defrauding retirees, faces 20 years", False, 0),
            ("valleyobserver.example", "Guilty on all 23 counts: jury's verdict in Delaney fraud trial", True, 0),
            ("coastalgazette.example", "Victims weep as former adviser is convicted", False, 1),
        ],
    ),
    # ------------------------------------------------------------------ s10
    dict(
        key="cupfinal", story="s10", site="valleyobserver.example", date="2018-05-13",
        section="sport",
        title="Late Moreau header wins regional cup for Port Aldery Rovers",
        paras=[
            "Port Aldery Rovers won the Tri-County Cup for the first time in 26 years on Saturday, beating Northgate City 2-1 at a packed Harbor Park thanks to a stoppage-time header from substitute Julien Moreau.",
            "A crowd of 8,400, the largest for a final since the competition moved to its current format, saw Northgate take the lead in the 17th minute when captain Dale Whitaker curled a free kick over the wall and into the top corner.",
            "Rovers, who had lost their previous three meetings with Northgate, struggled to create chances until the break but came out transformed after half-time. Winger Kofi Asante equalized in the 58th minute, cutting inside from the left and driving a low shot past goalkeeper Sam Lindgren.",
            "With extra time looming, Rovers won a corner on the right. Moreau, who had been on the pitch for only six minutes, rose above two defenders to head the ball in off the crossbar, sending the home supporters behind the goal into wild celebration.",
            "“I just closed my eyes and jumped,” said Moreau, a 19-year-old who joined the first team from the club's youth academy last summer. “My family was in the stand. I don't think I'll ever forget this.”",
            "Rovers manager Lisa Harrow, in her second season in charge, praised her players' patience. “We told them at half-time that the goal would come if they kept moving the ball,” she said. “They showed real character.”",
            "Northgate manager Gary Stott said his side had been the better team for an hour and had paid for failing to score a second. “We invited pressure and you can't do that in a final,” he said. He declined to answer questions about his future.",
            "Northgate finished the match with ten men after defender Luis Ortega was sent off for a second yellow card in the 84th minute.",
            "The victory earns Rovers a place in next season's state championship tournament, which begins in August.",
            "The trophy will go on display at the club shop.",
        ],
        copies=[
            ("coastalgazette.example", "Rovers end 26-year wait with dramatic cup final win", False, 0),
            ("northgatepost.example", "Heartbreak for Northgate City as Rovers snatch cup in stoppage time", True, 0),
            ("metrotimes.example", "Teenager Moreau the hero as Port Aldery lift Tri-County Cup", False, 1),
            ("dailyherald.example", "Tri-County Cup final: Rovers 2, Northgate City 1", True, 1),
        ],
    ),
    dict(
        key="stott", story="s10", site="northgatepost.example", date="2018-05-16",
        section="sport",
        title="Northgate City part ways with Gary Stott after cup final defeat",
        paras=[
            "Northgate City have parted company with manager Gary Stott, four days after the club lost the Tri-County Cup final to Port Aldery Rovers in the last minute of normal time.",
            "The club announced the decision in a short statement on Wednesday, thanking Stott for four years of service and saying both sides had agreed it was the right moment for a change. Assistant coach Maria Fenn will take charge of training until a permanent replacement is found.",
            "Stott, 47, led Northgate to two league titles and a cup final appearance in 2016, but the team finished only fifth in the league this season and supporters had grown frustrated with its cautious style of play. Some fans booed the players off the pitch after Saturday's defeat.",
            "Club chairman Robert Achterberg said the board had begun a search for a new coach and hoped to appoint someone before pre-season training starts in July. “We want to play on the front foot again,” he said.",
            "Stott did not respond to requests for comment. In a post on social media, defender Luis Ortega, whose red card late in the final left Northgate a man short, apologized to supporters and thanked the departing manager for giving him his first professional contract.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s11
    dict(
        key="asteroid", story="s11", site="worldwire.example", date="2018-12-04",
        section="science",
        title="Astronomers spot newly discovered asteroid that will pass close to Earth",
        paras=[
            "Astronomers at the Kellerman Observatory have discovered an asteroid roughly 140 meters across that will pass within about 1.2 million kilometers of Earth next March, closer than any known object of its size this decade.",
            "The rock, designated 2018 XQ9, was first spotted on the night of November 28 in images taken by the observatory's wide-field survey telescope, which scans the sky for faint moving objects. Follow-up observations by telescopes in Chile and Hawaii confirmed its orbit over the following days.",
            "“It showed up as a tiny streak moving against the background stars, and at first we weren't sure it was real,” said Dr. Inés Carvalho, the astronomer who led the search team that night. “By the third image there was no doubt.”",
            "Scientists stressed that the asteroid poses no danger. At its closest approach, expected on March 14, it will be about three times farther away than the Moon. Even so, an object of that size striking the planet could devastate an area the size of a large city, which is why such discoveries are closely watched.",
            "The Minor Planet Center, which catalogs asteroids and comets on behalf of the International Astronomical Union, published the object's orbit on Monday. Calculations suggest it circles the Sun every 2.7 years on an elongated path that crosses the orbits of both Earth and Mars.",
            "Carvalho said the flyby would give researchers a rare chance to study the object using radar, which can reveal its shape, spin and surface texture. Astronomers estimate it is dark and rocky, reflecting only about 8 percent of the sunlight that falls on it.",
            "The discovery highlights how much of the near-Earth population remains unknown. NASA estimates that fewer than half of the asteroids larger than 140 meters have been found, despite a congressional mandate set in 2005 to locate 90 percent of them.",
            "Amateur astronomers with moderate telescopes should be able to see the asteroid in the days around its closest approach, when it will brighten to about magnitude 13.",
            "The observatory plans a public viewing night in March.",
        ],
        copies=[
            ("capitalledger.example", "Newly found asteroid to fly past Earth in March", False, 0),
            ("dailyherald.example", "Kellerman Observatory team discovers 140-meter space rock", True, 0),
            ("valleyobserver.example", "Asteroid 2018 XQ9 poses no threat, scientists say", False, 1),
            ("metrotimes.example", "Close call? No, say astronomers tracking new asteroid", True, 1),
        ],
    ),
    dict(
        key="asteroid_radar", story="s11", site="coastalgazette.example", date="2019-03-16",
        section="science",
        title="Radar images show asteroid 2018 XQ9 is two bodies stuck together",
        paras=[
            "Radar observations made during this week's close flyby of asteroid 2018 XQ9 show that it is a so-called contact binary, two rounded lumps joined at a narrow neck, scientists said on Friday.",
            "The images were captured on Thursday night as the asteroid swept past Earth at a distance of about 1.19 million kilometers, using a large radio dish that bounces signals off passing objects and measures the echoes. They reveal a body about 160 meters long, slightly bigger than earlier estimates, that rotates once every 5 hours and 40 minutes.",
            "“It looks a bit like a peanut, or a bowling pin lying on its side,” said Inés Carvalho of the Kellerman Observatory, whose team discovered the object in late November. “We think two separate pieces drifted together very gently at some point in the distant past.”",
            "Contact binaries are thought to make up perhaps one in seven near-Earth asteroids of this size. Studying them helps researchers understand how small bodies form and break apart.",
            "The new measurements also sharpened the asteroid's orbit, allowing astronomers to rule out any chance of a collision with Earth for at least the next 200 years.",
            "Hundreds of amateur observers photographed the asteroid as a faint, fast-moving dot. The observatory said more than 600 people attended its public viewing night, though clouds hid the sky for much of the evening.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s12
    dict(
        key="measles", story="s12", site="dailyherald.example", date="2019-02-12",
        section="health",
        title="Measles outbreak spreads to three Eastham schools",
        paras=[
            "Health officials in Northgate County have confirmed 14 cases of measles linked to three schools in Eastham and urged parents to check that their children's vaccinations are up to date.",
            "The outbreak began in late January, when a 9-year-old pupil at Linden Grove Elementary School developed a rash several days after returning from a family trip abroad, the county health department said on Monday. Since then, cases have been confirmed among students and one staff member at Linden Grove, Eastham Middle School and St. Agnes Catholic School.",
            "All but one of those infected had not received the measles, mumps and rubella vaccine. Four children have been treated in hospital, including a toddler, the younger sibling of a pupil, who developed pneumonia. None are in critical condition.",
            "“Measles is one of the most contagious diseases we know of,” said Dr. Olusegun Adeyemi, the county's medical officer. “The virus can linger in the air of a room for up to two hours after an infected person has left. If you are not immune and you are exposed, there is a very high chance you will catch it.”",
            "The department has ordered unvaccinated students at the three schools to stay home for 21 days from their last possible exposure, unless they receive a vaccine dose within 72 hours. About 110 children are affected by the order.",
            "Vaccination rates at Linden Grove have fallen to about 86 percent in recent years, below the level of around 95 percent that experts say is needed to stop the virus spreading through a community. Some families have claimed religious or personal exemptions.",
            "Free vaccination clinics will be held at the Eastham community center on Wednesday and Saturday. Officials also warned that anyone who visited the emergency department at Northgate Memorial Hospital on the evening of February 6 may have been exposed.",
            "Symptoms usually begin with a high fever, cough, runny nose and red, watery eyes, followed a few days later by a rash that spreads from the face downward. Parents who suspect measles are asked to call their doctor before visiting so that staff can take precautions.",
            "The last outbreak in the county, in 2014, involved six cases.",
        ],
        copies=[
            ("metrotimes.example", "14 measles cases confirmed in Eastham school outbreak", False, 0),
            ("northgatepost.example", "Unvaccinated pupils told to stay home as measles spreads", True, 0),
            ("coastalgazette.example", "Health officials urge MMR checks after Eastham measles cases", False, 1),
            ("capitalledger.example", "Measles outbreak: 110 Eastham children excluded from class", False, 1),
        ],
    ),
    dict(
        key="measles_over", story="s12", site="metrotimes.example", date="2019-04-02",
        section="health",
        title="Eastham measles outbreak declared over after 23 cases",
        paras=[
            "The measles outbreak that closed classrooms to unvaccinated children in Eastham this winter has officially ended, county health officials announced on Tuesday, after 42 days passed without a new case.",
            "In total, 23 people caught the disease, 19 of them children. Seven were admitted to hospital, and the toddler who developed pneumonia in February has made a full recovery, said Dr. Olusegun Adeyemi, the county medical officer.",
            "Adeyemi credited a surge in vaccinations for bringing the spread under control. Nearly 1,900 doses of the MMR vaccine were given at free clinics and doctors' offices across Northgate County in February and March, about four times the usual number for that period.",
            "“Lots of parents who had been hesitant came in, asked questions and decided to vaccinate,” he said. “That change, more than anything, is what stopped this virus.”",
            "The outbreak cost the health department an estimated $380,000 in staff overtime, laboratory tests and the tracing of more than 1,200 contacts, according to figures presented to the county board.",
            "At Linden Grove Elementary, where the first case was identified, the share of fully vaccinated pupils has risen from about 86 percent to 93 percent, the school district said. Principal Angela Moretti said attendance had returned to normal and the school would hold a small celebration for staff who covered classes during the exclusion period.",
            "State legislators, meanwhile, are debating a bill that would end personal belief exemptions from school vaccination requirements. Representative Joan Whitfield, a Democrat from Eastham, is one of its sponsors. A committee hearing is set for later this month.",
            "Health officials reminded travelers to check their immunity before trips abroad.",
        ],
        copies=[
            ("dailyherald.example", "Measles outbreak over, say Northgate County health officials", False, 0),
            ("valleyobserver.example", "Vaccination surge credited with ending Eastham measles outbreak", True, 1),
        ],
    ),
    # ------------------------------------------------------------------ s13
    dict(
        key="breach", story="s13", site="capitalledger.example", date="2018-06-05",
        section="technology",
        title="Brightline Mobile says hackers stole data of 1.2 million customers",
        paras=[
            "Brightline Mobile, the regional wireless carrier, said on Tuesday that hackers had gained access to personal information belonging to about 1.2 million current and former customers, including names, home addresses, dates of birth and, in some cases, partial bank account numbers.",
            "The company said the intruders used login details stolen from an employee of an outside contractor to break into a customer management system in mid-May. The breach went unnoticed for nine days before unusual traffic was flagged by its security team on May 24.",
            "Passwords and full payment card numbers were not exposed, Brightline said, because they are stored in a separate, encrypted database. But security experts warned that the stolen details could be used for identity theft and for convincing phishing messages.",
            "“With a name, a date of birth and an address, criminals can do a lot,” said Nadia Petrov, a cybersecurity researcher at the Northgate Institute of Technology. “Customers should be extremely suspicious of any call or email that claims to come from their phone company over the coming months.”",
            "Chief executive Martin Crowley apologized in a video posted on the company's website. “We let our customers down, and I'm sorry,” he said. “We have closed the gap that allowed this to happen and we are working with law enforcement to find those responsible.”",
            "Brightline said it would offer two years of free credit monitoring to all affected customers and would send letters explaining the breach over the next two weeks. It has also set up a dedicated help line.",
            "The company, which has about 3.5 million subscribers across four states, did not say why it waited almost two weeks after discovering the breach to make it public. State law requires companies to notify affected residents “without unreasonable delay”.",
            "The state attorney general's office said it had opened an inquiry. The federal communications regulator, which oversees how carriers protect customer records, said it was aware of the incident and in contact with the company.",
            "Shares in Brightline's parent company, BLM Holdings, fell 6.8 percent in trading on Tuesday.",
            "Customers can check whether they were affected on the company's website.",
        ],
        copies=[
            ("worldwire.example", "US carrier Brightline Mobile hit by data breach affecting 1.2 million", False, 0),
            ("dailyherald.example", "Are you a Brightline customer? Hackers may have your details", True, 0),
            ("metrotimes.example", "Brightline apologizes after hackers access customer records", False, 0),
            ("northgatepost.example", "Brightline breach: names, addresses and birth dates exposed", False, 1),
            ("valleyobserver.example", "Phone company data breach: what customers need to know", True, 1),
        ],
    ),
    dict(
        key="breach_fine", story="s13", site="worldwire.example", date="2018-12-11",
        section="technology",
        title="Regulator fines Brightline Mobile $7.5 million over customer data breach",
        paras=[
            "Federal regulators on Tuesday fined Brightline Mobile $7.5 million for failing to protect the personal data of more than a million subscribers, saying the carrier ignored warnings about weak security at one of its contractors for over a year.",
            "The Federal Communications Commission said an investigation found that Brightline had not required the contractor's staff to use two-step verification when logging into systems holding customer records. A penetration test commissioned by the company in early 2017 had recommended the change, but it was never carried out.",
            "That gap allowed hackers to use a single stolen password to reach the records of roughly 1.2 million people last spring, the agency said. The breach, disclosed in June, exposed names, addresses, birth dates and some partial bank details.",
            "As part of a settlement, Brightline agreed to appoint an outside monitor for three years, to tighten controls on vendors and to delete customer data it no longer needs. The company did not admit wrongdoing.",
            "“Companies entrusted with sensitive information have an obligation to act on the risks they know about,” the commission's enforcement chief said in a statement. “Brightline knew, and it did not act.”",
            "Brightline chief executive Martin Crowley said the company had already spent more than $20 million upgrading its systems since the breach. “We have learned hard lessons this year and we accept the commission's findings,” he said.",
            "Consumer groups said the penalty was too small. “For a company of this size, $7.5 million is a rounding error,” said Ellen Marsh of the Digital Privacy Alliance.",
            "The fine is separate from a class action lawsuit filed by customers in federal court in Northgate, which seeks damages for the time and expense of guarding against identity theft. A judge is expected to rule on the company's motion to dismiss that case in January.",
            "The state attorney general's investigation is continuing.",
        ],
        copies=[
            ("capitalledger.example", "Brightline to pay $7.5 million penalty, accept outside monitor", False, 0),
            ("metrotimes.example", "FCC: Brightline ignored security warnings before breach", True, 1),
        ],
    ),
    # ------------------------------------------------------------------ s14
    dict(
        key="bridge", story="s14", site="valleyobserver.example", date="2018-08-06",
        section="local",
        title="Old Mill Bridge in Millbrook closed for at least six months after inspectors find corrosion",
        paras=[
            "The Old Mill Bridge, which carries about 9,000 vehicles a day across the Sable River in Millbrook, was closed without warning on Monday after state inspectors found severe corrosion in two of its steel support beams.",
            "Drivers were turned back by police at both ends of the 1936 span shortly after 7 a.m., causing long queues in the town center during the morning rush. The state transportation department said the bridge would stay closed to all traffic, including pedestrians, for at least six months while engineers design and carry out repairs.",
            "“When the inspection team saw the condition of those beams, there was only one responsible decision,” said department spokeswoman Teresa Okonkwo. “Public safety has to come first, even when it causes real disruption.”",
            "The closure forces drivers onto a detour of about seven miles via the Route 12 bridge at Cobb's Crossing. Local business owners on Mill Street said they feared losing customers who would no longer pass their doors.",
            "“Half my trade comes over that bridge,” said Amit Sharma, who runs a hardware store a block from the river. “Six months is a long time for a small shop.”",
            "The school district said it was redrawing bus routes for about 400 students who live on the east bank and would normally cross the bridge to reach Millbrook High School. The new routes will be announced before classes resume on August 27.",
            "Mayor Sandra Pryce called on the state to consider a temporary footbridge so that residents could at least walk across the river. She said the closure was another reminder that much of the state's infrastructure was built nearly a century ago and had not been properly maintained.",
            "The bridge was last inspected in 2016, when it was rated in fair condition. The department said it could not yet estimate the cost of repairs.",
            "Emergency services have moved an ambulance to the east bank fire station.",
        ],
        copies=[
            ("dailyherald.example", "Corroded beams force closure of Millbrook's Old Mill Bridge", False, 0),
            ("coastalgazette.example", "Millbrook bridge shut, drivers face seven-mile detour", True, 0),
            ("northgatepost.example", "Old Mill Bridge closure: businesses fear six months of lost trade", False, 1),
        ],
    ),
    # ------------------------------------------------------------------ s15
    dict(
        key="library", story="s15", site="northgatepost.example", date="2018-09-18",
        section="local",
        title="Northgate Central Library reopens after $14 million renovation",
        paras=[
            "After two and a half years behind scaffolding, Northgate Central Library reopened its doors on Monday, and more than 2,000 people came through in the first three hours.",
            "The $14 million renovation restored the building's 1912 reading room, with its tall arched windows and painted ceiling, and added a glass-walled children's wing, a maker space with 3D printers and a recording studio that residents can book for free.",
            "“We wanted to keep everything people loved about this place and fix everything they complained about,” said head librarian Margarethe Voss. Those complaints included a leaking roof, too few power outlets and a lift that broke down so often that regulars nicknamed it “the ornament”.",
            "Funding came from a city bond approved by voters in 2014, along with $3.2 million raised by the Friends of the Library, a volunteer group. The group's largest single donation, $750,000, came from the family of the late shipping executive Bernard Kessler.",
            "Among the first visitors was eight-year-old Amara Diallo, who had been waiting outside since before 9 a.m. with her father. She left with a stack of six books about dinosaurs. “I'm going to read them all tonight,” she said.",
            "The library will open seven days a week, with extended evening hours on weekdays. A program of author talks and family events runs through the autumn.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s16
    dict(
        key="marathon", story="s16", site="coastalgazette.example", date="2018-04-15",
        section="sport",
        title="Course records fall at Port Aldery half marathon",
        paras=[
            "Both course records fell at the Port Aldery Half Marathon on Sunday as cool, still conditions along the seafront helped a field of nearly 3,000 runners to fast times.",
            "Kenyan runner Daniel Kiprotich won the men's race in 1 hour, 2 minutes and 48 seconds, breaking the previous best by 31 seconds. He pulled clear of a small lead group on the long climb to Aldery Point at the 15-kilometer mark and finished alone, waving to the crowd over the last 100 meters.",
            "In the women's race, Zoë Lindqvist of Northgate, a 27-year-old physiotherapist who trains before work, clocked 1:11:05 to lower the record she set two years ago. “I saw the clock at the last corner and just emptied the tank,” she said. “Nobody was more surprised than me.”",
            "Race director Bill Henshaw said entries were up 12 percent on last year, and that runners had raised more than $180,000 for local charities, including the lifeboat station and the children's ward at Port Aldery Hospital.",
            "The wheelchair race was won by Tomasz Wójcik in 48 minutes and 10 seconds, his third victory in four years.",
            "Roads along the seafront reopened at 1 p.m. Organizers said next year's race will be held on April 14, with registration opening in October.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s17
    dict(
        key="jazz", story="s17", site="metrotimes.example", date="2018-07-30",
        section="culture",
        title="Port Aldery jazz festival draws record crowds in “best year yet”",
        paras=[
            "The Port Aldery Jazz Festival closed on Sunday night after drawing an estimated 22,000 people over three days, a record for the event now in its 18th year.",
            "The headline act, French pianist Amélie Rousseau, played to a full tent on the harbor front on Saturday evening, opening with a slow solo version of a Django Reinhardt tune before her trio launched into a set of original pieces.",
            "Speaking after the concert, Rousseau said she had been struck by the audience's warmth.",
            "« Je ne m'attendais pas à un public aussi chaleureux, si loin de chez moi », a-t-elle confié, avant d'ajouter en anglais qu'elle espérait revenir l'an prochain.",
            "Festival director Marcus Bell said ticket sales were up by a fifth on last year and that the free stages on Front Street had been busy until late each night. “This is our best year yet,” he said. “We had families, students, people who have been coming since the first festival.”",
            "Local businesses reported strong trade. Restaurants along the waterfront said they had run out of some dishes by Saturday evening, and the town's hotels were fully booked.",
            "Not everyone was happy. Several residents of Front Street complained to the town council about noise after 11 p.m., and organizers said they would review stage times for next year.",
            "The 2019 festival is scheduled for the last weekend in July.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s18
    dict(
        key="market", story="s18", site="dailyherald.example", date="2018-06-23",
        section="local",
        title="Northgate farmers market moves to riverside site, doubles in size",
        paras=[
            "Northgate's Saturday farmers market opened at its new home on the riverside plaza this morning, with 64 stalls, twice as many as at its old spot in the parking lot behind the post office.",
            "The move, approved by the city in March, gives vendors covered space under the old railway goods shed, which has been restored with new lighting, water connections and public restrooms.",
            "“At the old site we had a waiting list of more than 40 sellers and nowhere to put them,” said market manager Rosa Delacroix-Hunt. “Now we can say yes to the young growers, the bakers, the cheesemakers who have been asking for years.”",
            "Shoppers arrived early. By 9 a.m. the queue at the Green Acre Farm stall, known for its strawberries, stretched nearly to the river path. Several vendors said they had sold out of some produce before noon.",
            "Not all stallholders were pleased. Two long-standing sellers said the pitch fees, which rose from $25 to $40 a week to cover the costs of the new site, would eat into thin margins. The market association has agreed to review the charges after the summer.",
            "The market runs every Saturday from 8 a.m. to 1 p.m. until the end of October. Free bicycle parking is available, and the city has added a temporary bus stop on Quay Street.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s19
    dict(
        key="teachers", story="s19", site="valleyobserver.example", date="2019-01-29",
        section="education",
        title="Millbrook teachers approve new contract, ending months of talks",
        paras=[
            "Teachers in the Millbrook school district voted overwhelmingly on Monday to accept a new three-year contract, ending nine months of negotiations that at one point brought the two sides close to a strike.",
            "The Millbrook Education Association said 91 percent of the members who cast ballots supported the deal. The school board is expected to ratify it at its meeting next week.",
            "Under the agreement, teachers will receive raises of 2.5 percent in the first year and 3 percent in each of the following two years. Class sizes in kindergarten through third grade will be capped at 22 pupils, a key demand from the union, and the district will hire four additional special education aides.",
            "“Our members held together, and parents stood with us,” said association president Ruth Okoye. “This contract is good for teachers, but it's even better for kids.”",
            "Superintendent Daniel Marsh said the raises would be paid for in part by savings from a new health insurance plan and from closing an underused administrative building. He acknowledged that talks had been tense at times, particularly in November when the union held a strike authorization vote.",
            "The district employs about 310 teachers across six schools, and the new pay scales will apply from February 1.",
        ],
        copies=[],
    ),
    # ------------------------------------------------------------------ s20
    dict(
        key="railstrike", story="s20", site="northgatepost.example", date="2018-11-19",
        section="transport",
        title="Commuter rail strike halts trains between Northgate and Port Aldery",
        paras=[
            "Thousands of commuters were forced onto crowded roads and replacement buses on Monday after train drivers and conductors on the Coastline commuter railway walked out in a dispute over staffing and pay, halting all services between Northgate and Port Aldery.",
            "The 48-hour strike, the first on the line in more than a decade, was called by the Brotherhood of Rail Operators after talks with the operator, Coastline Rail, broke down on Friday evening. The union represents about 260 drivers and conductors.",
            "At the heart of the dispute is a plan by Coastline Rail to run some off-peak trains with a driver only, without a conductor on board. The company says the change would save about $4 million a year and bring the railway into line with other systems. The union argues it would put passenger safety at risk, particularly for elderly and disabled riders at unstaffed stations.",
            "“A conductor is the person who helps you if you fall, if there's a fight, if there's a fire,” said union chairman Desmond Achebe. “We are not going to bargain that away.”",
            "Coastline Rail said it had offered a 3 percent pay increase in each of the next two years and a guarantee that no current employee would lose their job. Its chief operating officer, Rebecca Holm, said the strike was unnecessary and urged the union to return to talks.",
            "The railway normally carries about 31,000 passengers on a weekday. The company arranged 40 replacement buses, but many passengers said they waited more than an hour at Northgate Central. Traffic on the coastal highway was backed up for several miles during the morning peak.",
            "“I left home at six and I'm still not at work,” said Priscilla Nwosu, a nurse who commutes from Port Aldery to Northgate Memorial Hospital. “I support the staff, but this is hard on people like me.”",
            "State mediators said they would invite both sides to new talks on Wednesday. The union has warned of further stoppages in December if no agreement is reached.",
            "Services are expected to resume on Wednesday morning.",
        ],
        copies=[
            ("worldwire.example", "Strike shuts down Coastline commuter railway", False, 0),
            ("coastalgazette.example", "Port Aldery commuters stranded as rail workers walk out", True, 0),
            ("capitalledger.example", "Coastline Rail strike over driver-only trains strands 31,000 riders", False, 1),
        ],
    ),
    # ------------------------------------------------------------------ s21
    dict(
        key="fishkill", story="s21", site="coastalgazette.example", date="2018-07-03",
        section="environment",
        title="Thousands of dead fish found in Sable River after chemical spill",
        paras=[
            "Thousands of dead fish have been found along a 12-mile stretch of the Sable River below Millbrook, and state environmental officials said on Tuesday that a chemical spill at an industrial site upstream was the most likely cause.",
            "Anglers first reported trout and smallmouth bass floating near the Cobb's Crossing boat ramp on Sunday morning. By Monday afternoon, volunteers and state staff had counted more than 7,000 dead fish, including crayfish and freshwater mussels, along the banks and in shallow pools.",
            "The state Department of Environmental Protection said tests showed high levels of ammonia in the water near a drainage outlet serving the Ridgeway Industrial Park. Investigators believe a storage tank at one of the businesses there leaked over the weekend, and the chemical washed into a stream that feeds the river.",
            "“Ammonia at these concentrations is lethal to aquatic life within hours,” said department biologist Henrik Aalto. “The fish essentially suffocate because it damages their gills.”",
            "Officials did not name the company involved but said it was cooperating. Enforcement action, including fines, was possible once the investigation is complete.",
            "The river downstream of Millbrook is a popular fishing area and an important spawning ground. Aalto said it could take several years for fish populations to recover fully, although young fish from unaffected tributaries would begin to move back within months.",
            "Residents were advised not to swim, fish or let pets drink from the river between Millbrook and the Route 12 bridge until further notice. The town's drinking water, which comes from wells, is not affected.",
            "Karen Albright, president of the Sable River Watershed Association, said the spill showed the need for stronger oversight of chemical storage near waterways. “We've been asking for inspections at Ridgeway for years,” she said. “This was a disaster waiting to happen.”",
            "Volunteers will help remove the dead fish this weekend.",
        ],
        copies=[
            ("valleyobserver.example", "Ammonia leak blamed for mass fish kill below Millbrook", False, 0),
            ("worldwire.example", "Chemical spill kills thousands of fish in US river", True, 1),
        ],
    ),
    # ------------------------------------------------------------------ s22
    dict(
        key="obituary", story="s22", site="northgatepost.example", date="2019-02-25",
        section="obituaries",
        title="Agnes Thornbury, founder of Northgate's first women's shelter, dies at 88",
        paras=[
            "Agnes Thornbury, who founded Northgate's first shelter for women escaping domestic violence and spent five decades campaigning for its residents, has died at the age of 88.",
            "Her family said she died peacefully on Saturday at her home in the Fairview neighborhood, surrounded by her children and grandchildren.",
            "Born in 1930 in a mining town in the north of the state, Thornbury moved to Northgate as a young teacher in 1954. In 1976, after several of her pupils' mothers confided in her about violence at home, she persuaded a local church to lend her an empty rectory. Thornbury House, as it became known, opened with six beds. Today it has 48, along with a counseling center and a legal aid clinic.",
            "“She had no money, no staff and no permission from anybody. She just opened the door,” said Dolores Haddad, the shelter's current director. “Thousands of women and children are alive and safe because of her.”",
            "Thornbury also served two terms on the city council in the 1980s and was a founding member of the Northgate Tenants' Union. In 2009 she received the state's highest civilian honor.",
            "Mayor Helen Okafor ordered flags at City Hall to be flown at half-staff. A memorial service will be held at St. Columba's Church on March 4.",
        ],
        copies=[],
    ),
]

# ---------------------------------------------------------------------------
# Wire-copy edits: single-word swaps a copy desk might make, plus number
# format changes. Each copy gets 1-4 of them (seeded), applied to the body.
# ---------------------------------------------------------------------------

SWAPS = {
    "said": "stated",
    "says": "states",
    "told": "informed",
    "about": "around",
    "around": "about",
    "nearly": "almost",
    "almost": "nearly",
    "began": "started",
    "started": "began",
    "large": "big",
    "help": "assist",
    "expected": "anticipated",
    "residents": "locals",
    "spokesman": "spokesperson",
    "spokeswoman": "spokesperson",
    "quickly": "rapidly",
    "roughly": "approximately",
    "officials": "authorities",
    "children": "kids",
    "rise": "increase",
    "unveiled": "presented",
}

WORD_RE = re.compile(r"\b[^\W\d_]+\b")
THOUSANDS_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
PERCENT_RE = re.compile(r"(?<=\d) percent\b")


def match_case(src, repl):
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


def edit_candidates(paras):
    """All possible single-word edits as (para, start, end, replacement)."""
    cands = []
    for pi, p in enumerate(paras):
        for m in WORD_RE.finditer(p):
            w = m.group(0)
            if w.lower() in SWAPS:
                cands.append((pi, m.start(), m.end(), match_case(w, SWAPS[w.lower()])))
        for m in THOUSANDS_RE.finditer(p):
            cands.append((pi, m.start(), m.end(), m.group(0).replace(",", "")))
        for m in PERCENT_RE.finditer(p):
            cands.append((pi, m.start(), m.end(), "%"))
    return cands


def make_copy_body(paras, rng, trim):
    paras = list(paras)
    if trim:
        paras = paras[:-1]
    cands = edit_candidates(paras)
    if not cands:
        raise SystemExit("no edit candidates")
    k = rng.choice([1, 2, 2, 3, 3, 4]) if not trim else rng.choice([1, 2, 2, 3])
    k = min(k, len(cands))
    chosen = sorted(rng.sample(cands, k), key=lambda c: (c[0], -c[1]))
    # apply right-to-left inside each paragraph so offsets stay valid
    for pi, s, e, r in sorted(chosen, key=lambda c: (c[0], -c[1])):
        paras[pi] = paras[pi][:s] + r + paras[pi][e:]
    edits = [(c[3]) for c in chosen]
    return paras, edits


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------


def slugify(title):
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    t = re.sub(r"[^a-zA-Z0-9]+", "-", t.lower()).strip("-")
    return "-".join(t.split("-")[:9])


def add_days(date, n):
    import datetime as dt
    d = dt.date.fromisoformat(date) + dt.timedelta(days=n)
    return d.isoformat()


def render_text(site, paras):
    s = SITES[site]
    lines = list(s["header"])
    for i, p in enumerate(paras):
        lines.append(p)
        if s["mid"] and s["mid_after"] is not None and i + 1 == s["mid_after"] and len(paras) > i + 1:
            lines.append(s["mid"])
    lines.extend(s["footer"])
    return "\n".join(lines)


def make_url(site, section, date, title, rng):
    y, m, d = date.split("-")
    num = rng.randrange(100000, 999999)
    return SITES[site]["url"].format(section=section, y=y, m=m, d=d, slug=slugify(title), num=num)


def build():
    arts = []
    for gi, o in enumerate(ORIGINALS, start=1):
        dup = f"g{gi:02d}"
        sites_used = [o["site"]] + [c[0] for c in o["copies"]]
        assert len(set(sites_used)) == len(sites_used), (o["key"], "site reused in dup group")
        assert len(sites_used) <= 6
        rng = random.Random(f"{SEED}:{o['key']}")
        arts.append(dict(
            key=o["key"], dup=dup, story=o["story"], site=o["site"], date=o["date"],
            title=o["title"], paras=list(o["paras"]), url=make_url(o["site"], o["section"], o["date"], o["title"], rng),
            kind="original", edits=[], trim=False,
        ))
        for site, title, trim, days in o["copies"]:
            crng = random.Random(f"{SEED}:{o['key']}:{site}")
            paras, edits = make_copy_body(o["paras"], crng, trim)
            date = add_days(o["date"], days)
            arts.append(dict(
                key=o["key"], dup=dup, story=o["story"], site=site, date=date, title=title,
                paras=paras, url=make_url(site, o["section"], date, title, crng),
                kind="copy", edits=edits, trim=trim,
            ))
    # feed order: by date, then site, then url
    arts.sort(key=lambda a: (a["date"], a["site"], a["url"]))
    for i, a in enumerate(arts, start=1):
        a["id"] = f"d{i:03d}"
        a["text"] = render_text(a["site"], a["paras"])
    return arts


def write_outputs(arts):
    buf = io.StringIO()
    for a in arts:
        rec = {"id": a["id"], "title": a["title"], "text": a["text"], "date": a["date"],
               "url": a["url"], "source": a["site"]}
        buf.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "articles.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        f.write(buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "dup", "story"])
    for a in arts:
        w.writerow([a["id"], a["dup"], a["story"]])
    with open(os.path.join(HERE, "labels.csv"), "w", encoding="utf-8", newline="\n") as f:
        f.write(buf.getvalue())


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def shingles(text, k=5):
    toks = re.findall(r"\w+", text.lower())
    return {tuple(toks[i:i + k]) for i in range(len(toks) - k + 1)}


def jaccard(a, b):
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def strip_boilerplate(site, text):
    s = SITES[site]
    bp = set(s["header"]) | set(s["footer"]) | ({s["mid"]} if s["mid"] else set())
    return "\n".join(l for l in text.split("\n") if l not in bp)


def checks(arts):
    ok = True
    # original lengths
    for o in ORIGINALS:
        n = len(" ".join(o["paras"]).split())
        if not (200 <= n <= 600):
            print(f"FAIL: original {o['key']} has {n} words (want 200-600)")
            ok = False
        if len(o["paras"]) < 3:
            print(f"FAIL: original {o['key']} has too few paragraphs")
            ok = False
    full = {a["id"]: shingles(a["text"]) for a in arts}
    body = {a["id"]: shingles(strip_boilerplate(a["site"], a["text"])) for a in arts}
    groups = {}
    for a in arts:
        groups.setdefault(a["dup"], []).append(a)
    stories = {}
    for a in arts:
        stories.setdefault(a["story"], set()).add(a["dup"])
    dup_story = {}
    for a in arts:
        assert dup_story.setdefault(a["dup"], a["story"]) == a["story"]

    print("Within-group 5-gram Jaccard (dup groups with >= 2 members)")
    print()
    print("| dup | story | n | min J (with boilerplate) | min J (boilerplate removed) |")
    print("|-----|-------|---|--------------------------|-----------------------------|")
    all_full, all_body = [], []
    for g in sorted(groups):
        mem = groups[g]
        if len(mem) < 2:
            continue
        jf = min(jaccard(full[x["id"]], full[y["id"]]) for x, y in itertools.combinations(mem, 2))
        jb = min(jaccard(body[x["id"]], body[y["id"]]) for x, y in itertools.combinations(mem, 2))
        all_full.append(jf)
        all_body.append(jb)
        flag = "" if jb >= 0.80 else "  <-- FAIL"
        if jb < 0.80:
            ok = False
        print(f"| {g} | {mem[0]['story']} | {len(mem)} | {jf:.3f} | {jb:.3f} |{flag}")
    print()
    print(f"within-group min over all groups: with boilerplate {min(all_full):.3f}, "
          f"boilerplate removed {min(all_body):.3f}")
    print()

    cross = []
    for x, y in itertools.combinations(arts, 2):
        if x["dup"] == y["dup"]:
            continue
        cross.append((jaccard(full[x["id"]], full[y["id"]]), x, y))
    cross.sort(key=lambda t: (-t[0], t[1]["id"], t[2]["id"]))
    mx = cross[0][0]
    print(f"max cross-group 5-gram Jaccard (with boilerplate): {mx:.3f}" + ("" if mx < 0.25 else "  <-- FAIL"))
    if mx >= 0.25:
        ok = False
    print("top 5 cross-group pairs:")
    print()
    print("| J | a | b | note |")
    print("|---|---|---|------|")
    for j, x, y in cross[:5]:
        note = "same site" if x["site"] == y["site"] else "different sites"
        note += ", same story" if x["story"] == y["story"] else ", different stories"
        print(f"| {j:.3f} | {x['id']} ({x['dup']}, {x['site']}) | {y['id']} ({y['dup']}, {y['site']}) | {note} |")
    print()

    def pair(k1, k2):
        a1 = [a for a in arts if a["key"] == k1 and a["kind"] == "original"][0]
        best = 0.0
        for a in arts:
            for b in arts:
                if a["key"] == k1 and b["key"] == k2:
                    best = max(best, jaccard(full[a["id"]], full[b["id"]]))
        return a1, best

    print("named pairs (max over all members, with boilerplate):")
    for k1, k2, what in [("kim2018", "kim2019", "seed pair, same story s01"),
                         ("shoot_riverton", "shoot_lakeport", "hard negative: shootings"),
                         ("quake_peru", "quake_indonesia", "hard negative: earthquakes"),
                         ("budget", "buses", "story s06 follow-up"),
                         ("storm", "storm_cost", "story s08 follow-up"),
                         ("trial", "verdict", "story s09 follow-up")]:
        _, j = pair(k1, k2)
        print(f"  {k1} vs {k2}: {j:.3f}  ({what})")
    print()

    sizes = sorted((len(m) for m in groups.values()), reverse=True)
    print(f"articles: {len(arts)}")
    print(f"dup groups: {len(groups)} (with >= 2 members: {sum(1 for s in sizes if s >= 2)}, "
          f"singletons: {sum(1 for s in sizes if s == 1)})")
    print(f"stories: {len(stories)} (with >= 2 dup groups: {sum(1 for s in stories.values() if len(s) >= 2)})")
    print(f"sites: {len({a['site'] for a in arts})}")
    print(f"originals: {len(ORIGINALS)}, wire copies: {sum(1 for a in arts if a['kind'] == 'copy')}")
    return ok


def main():
    arts = build()
    write_outputs(arts)
    ok = checks(arts)
    if "-v" in sys.argv:
        for a in arts:
            if a["kind"] == "copy":
                print(a["id"], a["dup"], a["site"], "trim" if a["trim"] else "", a["edits"])
    if not ok:
        print("CHECKS FAILED")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
