"""The demo company's fixed vocabulary: who buys, what they are called, where marketing spends.

Everything a seed does not decide lives here as plain data, so the simulation reads as rules
and the numbers that tune it sit in one place. The fit weights describe the demo company's
ideal customer profile (a B2B revenue tool): software and finance firms of 51–1,000 people in
mature markets, reached at director level or above, buy more often. They are hidden from the
stored data on purpose: lead scoring has to rediscover them from who converted.
"""

from __future__ import annotations

from dataclasses import dataclass

from onefunnel.domain.stages import StageReason
from onefunnel.domain.touches import Channel, TouchKind

#: (industry, share of accounts, fit weight)
INDUSTRIES: tuple[tuple[str, float, float], ...] = (
    ("Software", 0.20, 0.8),
    ("Financial Services", 0.10, 0.4),
    ("E-commerce", 0.09, 0.3),
    ("Professional Services", 0.10, 0.2),
    ("Media", 0.06, 0.1),
    ("Healthcare", 0.09, 0.0),
    ("Logistics", 0.07, -0.1),
    ("Manufacturing", 0.11, -0.2),
    ("Education", 0.08, -0.6),
    ("Non-profit", 0.05, -0.7),
    ("Government", 0.05, -0.8),
)

#: (employee band, low, high, share, fit weight, median annual contract value in dollars)
EMPLOYEE_BANDS: tuple[tuple[str, int, int, float, float, int], ...] = (
    ("1-10", 2, 10, 0.14, -1.0, 3_000),
    ("11-50", 11, 50, 0.24, -0.3, 8_000),
    ("51-200", 51, 200, 0.26, 0.4, 18_000),
    ("201-1000", 201, 1000, 0.19, 0.6, 40_000),
    ("1001-5000", 1001, 5000, 0.11, 0.3, 80_000),
    ("5001+", 5001, 60000, 0.06, 0.0, 150_000),
)

#: (ISO country, share, fit weight, region, sales time zone)
COUNTRIES: tuple[tuple[str, float, float, str, str], ...] = (
    ("US", 0.34, 0.3, "North America", "America/New_York"),
    ("CA", 0.05, 0.2, "North America", "America/New_York"),
    ("MX", 0.02, -0.4, "LATAM", "America/Mexico_City"),
    ("BR", 0.05, -0.3, "LATAM", "America/Sao_Paulo"),
    ("GB", 0.10, 0.2, "EMEA", "Europe/London"),
    ("DE", 0.09, 0.2, "EMEA", "Europe/Berlin"),
    ("FR", 0.06, 0.0, "EMEA", "Europe/Paris"),
    ("NL", 0.04, 0.2, "EMEA", "Europe/Amsterdam"),
    ("SE", 0.03, 0.2, "EMEA", "Europe/Stockholm"),
    ("ES", 0.04, -0.1, "EMEA", "Europe/Madrid"),
    ("IN", 0.07, -0.4, "APAC", "Asia/Kolkata"),
    ("SG", 0.03, 0.1, "APAC", "Asia/Singapore"),
    ("AU", 0.05, 0.1, "APAC", "Australia/Sydney"),
    ("JP", 0.03, -0.3, "APAC", "Asia/Tokyo"),
)
REGIONS: tuple[str, ...] = ("North America", "LATAM", "EMEA", "APAC")
#: The time zone each region's sales and account teams work in.
REGION_TZ: dict[str, str] = {
    "North America": "America/New_York",
    "LATAM": "America/Sao_Paulo",
    "EMEA": "Europe/Berlin",
    "APAC": "Asia/Singapore",
}

#: (seniority, share of contacts, fit weight, titles)
SENIORITIES: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("c_level", 0.06, 0.9, ("CEO", "CMO", "Chief Revenue Officer", "COO", "Founder")),
    ("vp", 0.09, 0.8, ("VP Marketing", "VP Sales", "VP Revenue Operations", "VP Growth")),
    (
        "director",
        0.15,
        0.6,
        ("Director of Demand Generation", "Director of Sales Operations", "Head of Growth"),
    ),
    (
        "manager",
        0.30,
        0.2,
        ("Marketing Manager", "Sales Manager", "RevOps Manager", "Marketing Operations Manager"),
    ),
    (
        "individual",
        0.32,
        -0.2,
        ("Marketing Specialist", "Sales Development Rep", "Account Executive", "Data Analyst"),
    ),
    ("other", 0.08, -1.0, ("Student", "Intern", "Consultant", "Freelancer")),
)

FIRST_NAMES: tuple[str, ...] = (
    "Ava", "Liam", "Maya", "Noah", "Sofia", "Lucas", "Emma", "Mateo", "Olivia", "Elias",
    "Amara", "Hiro", "Priya", "Jonas", "Chloe", "Omar", "Ingrid", "Diego", "Leila", "Felix",
    "Hannah", "Ravi", "Zoe", "Marco", "Aisha", "Tomas", "Yuki", "Clara", "Kwame", "Nina",
    "Samuel", "Freya", "Arjun", "Lena", "Mohammed", "Camila", "Erik", "Isabel", "Kenji", "Ruth",
    "Daniel", "Fatima", "Oscar", "Mila", "Ahmed", "Julia", "Pedro", "Sara", "Theo", "Ines",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Garcia", "Chen", "Müller", "Patel", "Rossi", "Kim", "Dubois", "Silva", "Nakamura",
    "Johansson", "Okafor", "Novak", "Haddad", "Kowalski", "Fischer", "Singh", "Lopez", "Brown",
    "Tanaka", "Andersen", "Moreau", "Costa", "Schmidt", "Wilson", "Ivanova", "Ahmed", "Jensen",
    "Martin", "Hughes", "Bauer", "Romero", "Nguyen", "Walsh", "Eriksson", "Mensah", "Sato",
    "Lambert", "Ortiz", "Clarke", "Weber", "Khan", "Bianchi", "Hansen", "Reyes", "Park", "Vogel",
    "Fernandes", "Murphy", "Laurent",
)  # fmt: skip
COMPANY_PREFIXES: tuple[str, ...] = (
    "Northwind", "Bluepeak", "Ironbark", "Silverline", "Brightwater", "Oakridge", "Redstone",
    "Cobalt", "Evergreen", "Summit", "Lumen", "Harbor", "Pioneer", "Granite", "Falcon",
    "Meridian", "Aurora", "Crescent", "Atlas", "Nimbus", "Vertex", "Sequoia", "Orchid", "Quartz",
    "Beacon", "Tidal", "Kestrel", "Polaris", "Juniper", "Sterling", "Maple", "Zenith", "Cedar",
    "Horizon", "Ember", "Solstice", "Willow", "Onyx", "Riverbend", "Copperleaf",
)  # fmt: skip
COMPANY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "Software": ("Labs", "Software", "Systems", "Cloud", "Technologies"),
    "Financial Services": ("Capital", "Financial", "Payments", "Bank"),
    "E-commerce": ("Commerce", "Goods", "Market", "Store"),
    "Professional Services": ("Consulting", "Partners", "Advisory", "Group"),
    "Media": ("Media", "Studios", "Publishing"),
    "Healthcare": ("Health", "Clinics", "Medical", "Bio"),
    "Logistics": ("Logistics", "Freight", "Shipping"),
    "Manufacturing": ("Industries", "Manufacturing", "Works", "Components"),
    "Education": ("Academy", "Learning", "University"),
    "Non-profit": ("Foundation", "Trust", "Alliance"),
    "Government": ("Agency", "Council", "Authority"),
}


@dataclass(frozen=True, slots=True)
class ChannelProfile:
    """How leads from one channel behave. Logit shifts are added to a shared baseline.

    ``hand_raise``: how often a contact first reached here ends up asking for sales;
    ``accept``: how often sales accepts such a lead; ``win``: how often its deal closes won;
    ``rejections``: relative weights of the rejection reasons (in REJECTION_REASONS order:
    bad fit, no budget, no authority, not now, duplicate, bad data, competitor, other).
    """

    hand_raise: float
    accept: float
    win: float
    rejections: tuple[float, float, float, float, float, float, float, float]


_DEFAULT_REJECTIONS = (3.0, 2.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.5)
CHANNEL_PROFILES: dict[Channel, ChannelProfile] = {
    Channel.REFERRAL: ChannelProfile(1.0, 0.8, 0.6, (1.0, 2.0, 1.0, 3.0, 1.0, 0.3, 2.0, 0.5)),
    Channel.EVENTS: ChannelProfile(0.7, 0.4, 0.3, (2.0, 2.0, 2.0, 5.0, 1.0, 0.5, 1.0, 0.5)),
    Channel.WEBINAR: ChannelProfile(0.6, 0.3, 0.2, (2.0, 2.0, 3.0, 4.0, 1.0, 0.5, 1.0, 0.5)),
    Channel.PARTNER: ChannelProfile(0.5, 0.4, 0.3, _DEFAULT_REJECTIONS),
    Channel.PAID_SEARCH: ChannelProfile(0.1, 0.1, 0.0, _DEFAULT_REJECTIONS),
    Channel.ORGANIC_SEARCH: ChannelProfile(0.0, 0.1, 0.0, _DEFAULT_REJECTIONS),
    Channel.CONTENT: ChannelProfile(0.0, 0.0, -0.1, (3.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 0.5)),
    Channel.DIRECT: ChannelProfile(-0.1, 0.2, 0.1, _DEFAULT_REJECTIONS),
    Channel.EMAIL: ChannelProfile(-0.2, 0.0, -0.1, _DEFAULT_REJECTIONS),
    Channel.SOCIAL: ChannelProfile(-0.5, -0.3, -0.2, (5.0, 2.0, 2.0, 3.0, 1.0, 1.5, 1.0, 0.5)),
    Channel.PAID_SOCIAL: ChannelProfile(-0.6, -0.9, -0.4, (9.0, 2.0, 2.0, 2.0, 1.0, 2.0, 0.5, 0.5)),
    Channel.DISPLAY: ChannelProfile(-1.2, -0.7, -0.5, (7.0, 2.0, 2.0, 2.0, 1.0, 3.0, 0.5, 0.5)),
}
REJECTION_NOTES: tuple[str, ...] = (
    "Job seeker, not a buyer",
    "Vendor pitching us their services",
    "Asked for a feature we do not plan to build",
    "Wants a free tier for a side project",
)

#: What a touch through each channel usually is, once the contact engages (weights).
CHANNEL_KINDS: dict[Channel, dict[TouchKind, float]] = {
    Channel.PAID_SEARCH: {
        TouchKind.AD_CLICK: 0.55,
        TouchKind.PAGE_VIEW: 0.30,
        TouchKind.HIGH_INTENT_PAGE: 0.10,
        TouchKind.CONTENT_DOWNLOAD: 0.05,
    },
    Channel.PAID_SOCIAL: {
        TouchKind.AD_CLICK: 0.50,
        TouchKind.PAGE_VIEW: 0.25,
        TouchKind.SOCIAL_ENGAGEMENT: 0.15,
        TouchKind.CONTENT_DOWNLOAD: 0.10,
    },
    Channel.DISPLAY: {
        TouchKind.AD_CLICK: 0.70,
        TouchKind.PAGE_VIEW: 0.28,
        TouchKind.HIGH_INTENT_PAGE: 0.02,
    },
    Channel.EMAIL: {
        TouchKind.EMAIL_OPEN: 0.60,
        TouchKind.EMAIL_CLICK: 0.35,
        TouchKind.CONTENT_DOWNLOAD: 0.05,
    },
    Channel.WEBINAR: {
        TouchKind.WEBINAR: 0.60,
        TouchKind.PAGE_VIEW: 0.25,
        TouchKind.FORM_SUBMIT: 0.15,
    },
    Channel.EVENTS: {TouchKind.EVENT: 0.70, TouchKind.PAGE_VIEW: 0.20, TouchKind.FORM_SUBMIT: 0.10},
    Channel.CONTENT: {
        TouchKind.CONTENT_DOWNLOAD: 0.40,
        TouchKind.PAGE_VIEW: 0.50,
        TouchKind.HIGH_INTENT_PAGE: 0.10,
    },
    Channel.REFERRAL: {
        TouchKind.PAGE_VIEW: 0.60,
        TouchKind.HIGH_INTENT_PAGE: 0.25,
        TouchKind.FORM_SUBMIT: 0.15,
    },
    Channel.PARTNER: {
        TouchKind.PAGE_VIEW: 0.50,
        TouchKind.CONTENT_DOWNLOAD: 0.20,
        TouchKind.EVENT: 0.10,
        TouchKind.HIGH_INTENT_PAGE: 0.20,
    },
    Channel.ORGANIC_SEARCH: {
        TouchKind.PAGE_VIEW: 0.65,
        TouchKind.HIGH_INTENT_PAGE: 0.20,
        TouchKind.CONTENT_DOWNLOAD: 0.10,
        TouchKind.FORM_SUBMIT: 0.05,
    },
    Channel.DIRECT: {
        TouchKind.PAGE_VIEW: 0.55,
        TouchKind.HIGH_INTENT_PAGE: 0.35,
        TouchKind.FORM_SUBMIT: 0.10,
    },
    Channel.SOCIAL: {TouchKind.SOCIAL_ENGAGEMENT: 0.60, TouchKind.PAGE_VIEW: 0.40},
}
#: Before a contact first engages, an engaging kind is recorded as its passive counterpart
#: (the page was seen, the email opened), so that engagement has one well-defined start.
PASSIVE_KIND: dict[TouchKind, TouchKind] = {
    TouchKind.EMAIL_CLICK: TouchKind.EMAIL_OPEN,
    TouchKind.CONTENT_DOWNLOAD: TouchKind.PAGE_VIEW,
    TouchKind.HIGH_INTENT_PAGE: TouchKind.PAGE_VIEW,
    TouchKind.WEBINAR: TouchKind.PAGE_VIEW,
    TouchKind.EVENT: TouchKind.PAGE_VIEW,
    TouchKind.FORM_SUBMIT: TouchKind.PAGE_VIEW,
}


@dataclass(frozen=True, slots=True)
class CampaignTemplate:
    """A campaign of the demo company's marketing plan, placed on the 12-month calendar.

    ``start_day`` and ``days`` count from the start of the simulated year; ``occurrences`` is
    how many dated sessions it has (events, webinars), 0 for always-on campaigns; ``reach`` is
    how many contacts it brings in per dollar, relative to the others.
    """

    name: str
    utm_campaign: str
    channel: Channel
    utm_source: str
    utm_medium: str
    budget: int
    start_day: int
    days: int
    occurrences: int = 0
    reach: float = 1.0


#: In order of priority: a size with n campaigns runs the first n.
CAMPAIGNS: tuple[CampaignTemplate, ...] = (
    CampaignTemplate("Search: brand terms", "search-brand", Channel.PAID_SEARCH, "google", "cpc",
                     90_000, 0, 365, reach=1.0),
    CampaignTemplate("LinkedIn lead gen forms", "linkedin-leadgen", Channel.PAID_SOCIAL,
                     "linkedin", "paid_social", 360_000, 0, 365, reach=1.1),
    CampaignTemplate("Webinar series: Pipeline Clinic", "webinar-pipeline-clinic",
                     Channel.WEBINAR, "webinar", "webinar", 120_000, 20, 320, occurrences=10,
                     reach=1.2),
    CampaignTemplate("Display prospecting", "display-prospecting", Channel.DISPLAY,
                     "programmatic", "display", 240_000, 45, 260, reach=1.6),
    CampaignTemplate("Monthly newsletter", "newsletter", Channel.EMAIL, "newsletter", "email",
                     12_000, 0, 365, reach=2.5),
    CampaignTemplate("Customer referral program", "referral-program", Channel.REFERRAL,
                     "customer", "referral", 90_000, 0, 365, reach=0.8),
    CampaignTemplate("RevOps Summit sponsorship", "revops-summit", Channel.EVENTS, "event",
                     "events", 225_000, 150, 45, occurrences=1, reach=1.0),
    CampaignTemplate("Search: competitor terms", "search-competitor", Channel.PAID_SEARCH,
                     "google", "cpc", 180_000, 90, 275, reach=0.9),
    CampaignTemplate("Partner co-marketing", "partner-comarketing", Channel.PARTNER, "partner",
                     "partner", 120_000, 0, 365, reach=0.8),
    CampaignTemplate("State of the Funnel report", "state-of-the-funnel", Channel.CONTENT,
                     "content", "content", 75_000, 120, 245, reach=1.5),
    CampaignTemplate("Retargeting", "retargeting", Channel.PAID_SOCIAL, "facebook",
                     "paid_social", 105_000, 120, 180, reach=1.3),
    CampaignTemplate("Regional roadshow", "regional-roadshow", Channel.EVENTS, "event",
                     "events", 150_000, 200, 120, occurrences=4, reach=0.9),
    CampaignTemplate("Search: generic terms", "search-generic", Channel.PAID_SEARCH, "bing",
                     "cpc", 135_000, 30, 335, reach=1.0),
    CampaignTemplate("Video pre-roll", "video-preroll", Channel.DISPLAY, "youtube", "cpm",
                     55_000, 180, 150, reach=1.4),
    CampaignTemplate("Product nurture sequence", "product-nurture", Channel.EMAIL, "nurture",
                     "email", 24_000, 60, 305, reach=1.5),
    CampaignTemplate("London field event", "london-field-event", Channel.EVENTS, "event",
                     "events", 90_000, 240, 60, occurrences=1, reach=0.7),
)  # fmt: skip

#: Channels that bring contacts without a campaign: (channel, utm_source, utm_medium, weight
#: relative to the whole campaign plan).
UNPAID_SOURCES: tuple[tuple[Channel, str, str, float], ...] = (
    (Channel.ORGANIC_SEARCH, "", "", 0.20),
    (Channel.DIRECT, "", "", 0.08),
    (Channel.SOCIAL, "linkedin", "social", 0.05),
    (Channel.REFERRAL, "g2", "referral", 0.04),
)

#: Rejection reasons a rep may give, in REJECTION_REASONS order (kept here to index weights).
REJECTION_ORDER: tuple[StageReason, ...] = (
    StageReason.BAD_FIT,
    StageReason.NO_BUDGET,
    StageReason.NO_AUTHORITY,
    StageReason.NOT_NOW,
    StageReason.DUPLICATE,
    StageReason.BAD_DATA,
    StageReason.COMPETITOR,
    StageReason.OTHER,
)

#: First names for the demo's staff, by team; usernames are built from them.
STAFF: dict[str, tuple[str, ...]] = {
    "sales": (
        "Alex Rivera", "Jordan Blake", "Priya Nair", "Lukas Becker", "Chloe Martin",
        "Kenji Watanabe", "Sofia Alvarez", "Tom Gallagher", "Nadia Haddad", "Ben Carter",
        "Mei Lin", "Oliver Grant", "Fernanda Lima", "Jakob Wolf", "Grace Okoye", "Ryan Patel",
    ),
    "marketing": ("Hannah Lee", "Marcus Dunn", "Elena Petrova", "Sam Whitaker"),
    "account_management": (
        "Isabel Moreno", "David Cho", "Aoife Byrne", "Victor Hugo Santos", "Leah Goldberg",
        "Pieter de Vries", "Anika Rao", "Connor Walsh",
    ),
}  # fmt: skip
