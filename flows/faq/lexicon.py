"""Domain vocabulary for FAQ matching: stop words, spelling variants, synonyms and anchor terms.

Everything here is data. Surface-level tables (stop words, phrase rewrites) work on lower-cased,
unstemmed tokens; the soft-synonym and anchor tables are written as plain words and stemmed by the
analyser when the matcher is built, so they stay readable.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> frozenset[str]:
    """A set of words written as whitespace-separated text, which reads better than a list."""
    return frozenset(text.split())


def _synonyms(weight: float, text: str) -> tuple[float, tuple[str, ...]]:
    """A synonym group: its weight and its words, written as whitespace-separated text."""
    return weight, tuple(text.split())


# Function words that carry no topic. Words that look like function words but separate topics
# are deliberately kept: question intent ("how", "why", "where", "who"), order and time ("before"
# linking is about requirements, "after"/"now" about launching, "while"/"during" about linking
# inside ad creation), "not", "own", "off", "only", "more", "same", "get", "make" and the second
# person ("you" addresses the bot).
STOP_WORDS: Final[frozenset[str]] = _words(
    """
    a about am an and any are as at be been being but by could did do does doing for from had
    has have having he her here hers herself him himself his i if in into is it its itself
    just let lets me might my myself of on or our ours ourselves she should so some such than
    that the their theirs them themselves then there these they this those to very was we were
    what which whom will with would yourself yourselves also go going ok okay yes yeah please
    pls plz thanks thank thx hi hello hey hiya dear guys im ive id ill us oh well really
    actually even maybe kindly someone something anything everything want wanted wanna tell
    know like sure exactly basically s t d ll m re ve
    """
)

# "What's" and friends keep their verb so that "what's a spark ad" reads as "what is a spark ad".
IS_CONTRACTIONS: Final[frozenset[str]] = _words(
    "what that it there here who where how when why which"
)

# Contractions expanded before tokenising, so "don't see" keeps its "not" and "can't" is not
# split into the meaningless token "can t".
CONTRACTIONS: Final[dict[str, str]] = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "n't": " not",
    "'re": "",
    "'ve": "",
    "'ll": "",
    "'d": "",
    "'m": "",
    "'s": "",
}

# Surface rewrites applied to token sequences (longest match first): spelling variants,
# abbreviations and fixed phrases that mean one domain concept. Both the knowledge base and the
# question go through them, so a rewrite never has to be undone. Replacements are phrases of
# ordinary words rather than invented tokens, so a question that uses only part of the phrase
# ("spark" or "code") still meets the entries.
PHRASES: Final[dict[str, str]] = {
    # question intent: "how" stays a term (procedure, as against "why" or "what is"), except
    # where it only introduces a quantity
    "how many": "howmany",
    "how much": "much",
    "how long": "long",
    "how often": "often",
    "how come": "why",
    "is it possible to": "can",
    "is it possible": "can",
    "am i able to": "can",
    "in it for me": "benefit",
    "have to": "need",
    "has to": "need",
    "need to": "need",
    "got to": "need",
    "gotta": "need",
    "what is": "whatis",
    "what are": "whatis",
    "whats": "whatis",
    "wtf is": "whatis",
    # platforms and products
    "tik tok": "tiktok",
    "tick tock": "tiktok",
    "tiktock": "tiktok",
    "tt": "tiktok",
    "ig": "instagram",
    "insta": "instagram",
    "insta gram": "instagram",
    "instagramm": "instagram",
    "fb": "facebook",
    "face book": "facebook",
    "msgr": "messenger",
    "bc": "business center",
    "business centre": "business center",
    "biz": "business",
    "bm": "business portfolio",
    "business manager": "business portfolio",
    "meta business manager": "business portfolio",
    "business account on meta": "business portfolio",
    "mbs": "meta business suite",
    # "Ads Manager" is one product; left as two words, "manager" would meet "comment management"
    # and "ads" would drown in every other entry.
    "ads manager": "adsmanager",
    "ad manager": "adsmanager",
    "advertising manager": "adsmanager",
    "ads mgr": "adsmanager",
    "tiktok ads manager": "tiktok adsmanager",
    "acc": "account",
    "acct": "account",
    "accnt": "account",
    "advert": "ad",
    # "advertising" and "advertiser" share a stem; only the second is a party to a link.
    # An ad account is a different thing from a TikTok account; keep the two apart.
    "ad account": "adaccount",
    "ads account": "adaccount",
    "advertiser account": "adaccount",
    "advertising account": "adaccount",
    "advertiser accounts": "adaccount",
    "ad accounts": "adaccount",
    "ads accounts": "adaccount",
    "advertising accounts": "adaccount",
    "advertising": "ads",
    "advertise": "run ads",
    "advertised": "ads",
    "not work": "broken",
    "not working": "broken",
    "stopped working": "broken",
    "adverts": "ads",
    "advertisement": "ad",
    "advertisements": "ads",
    "tiktok for business": "tiktok business",
    # Spark Ads authorisation code: many names for one thing
    "ad code": "spark code",
    "ads code": "spark code",
    "video code": "spark code",
    "post code": "spark code",
    "auth code": "spark code",
    "authcode": "spark code",
    "authorization code": "spark code",
    "ad authorization code": "spark code",
    "ad auth code": "spark code",
    "spark ad code": "spark code",
    "spark ads code": "spark code",
    "spark authorization code": "spark code",
    "spark ads authorization code": "spark code",
    "spark ad authorization code": "spark code",
    "spark id": "spark code",
    "sparkcode": "spark code",
    "spark": "spark",
    # time and validity
    "time zone": "timezone",
    "time-zone": "timezone",
    "tz": "timezone",
    "timed out": "expired",
    "time out": "expired",
    "times out": "expired",
    "ran out": "expired",
    "run out": "expired",
    "no longer valid": "expired",
    "not valid anymore": "expired",
    "not valid any more": "expired",
    # visibility of an option
    "not see": "missing",
    "not seeing": "missing",
    "not find": "missing",
    "not finding": "missing",
    "not visible": "missing",
    "not show": "missing",
    "not shown": "missing",
    "not showing": "missing",
    "not showing up": "missing",
    "not appear": "missing",
    "not appearing": "missing",
    "not there": "missing",
    "nowhere": "missing",
    "disappeared": "missing",
    "greyed out": "missing",
    "grayed out": "missing",
    # actions
    "say no": "reject",
    "said no": "reject",
    "says no": "reject",
    "turned down": "reject",
    "turn down": "reject",
    "take back": "revoke",
    "took back": "revoke",
    "taking back": "revoke",
    "pull back": "revoke",
    "set up": "setup",
    "setting up": "setup",
    "sign up": "signup",
    "signing up": "signup",
    "signed up": "signup",
    "log in": "login",
    "log into": "login",
    "log onto": "login",
    "walk me through": "steps",
    "walk through": "steps",
    "guide me through": "steps",
    "step by step": "steps",
    "went through": "success",
    "go through": "success",
    "gone through": "success",
    # "what can you do" asks about the bot itself, whatever it is called ("can you do my
    # homework" does not)
    "what can you do": "bot capabilities",
    "what do you do": "bot capabilities",
    "what can it do": "bot capabilities",
    "what can this do": "bot capabilities",
    "what can this bot do": "bot capabilities",
    "what can the bot do": "bot capabilities",
    "what can this assistant do": "bot capabilities",
    "what can the assistant do": "bot capabilities",
    "what can linkpilot do": "bot capabilities",
    "what does this bot do": "bot capabilities",
    "what does linkpilot do": "bot capabilities",
    "logging in": "login",
    "sign in": "login",
    # An ad or campaign that goes live is launched; a person who goes live on TikTok is
    # streaming, which is no topic here.
    "ad go live": "ad launch",
    "ad goes live": "ad launch",
    "ad going live": "ad launch",
    "ad went live": "ad launch",
    "ads go live": "ads launch",
    "ads going live": "ads launch",
    "ads went live": "ads launch",
    "campaign go live": "campaign launch",
    "campaign goes live": "campaign launch",
    "campaign going live": "campaign launch",
    "campaign went live": "campaign launch",
    "campaigns go live": "campaigns launch",
    "go live": "live stream",
    "goes live": "live stream",
    "going live": "live stream",
    "went live": "live stream",
    "top up": "topup",
    "topping up": "topup",
    "cross post": "crosspost",
    "cross posting": "crosspost",
    "cross-post": "crosspost",
    "crossposting": "crosspost",
    # "is it connected?" asks about a state, "how do I connect?" about an action: the past
    # participle keeps its own term (see UNSTEMMED) instead of collapsing into "link".
    "connected": "linked",
    "hooked up": "linked",
    "tied": "linked",
    "un link": "unlink",
    "de link": "unlink",
    "delink": "unlink",
    "dis connect": "disconnect",
    "hook up": "connect",
    "dm": "direct message",
    "dms": "direct messages",
    "pm": "direct message",
    "e mail": "email",
    "2fa": "two factor",
    "two-factor": "two factor",
    "qr": "qr",
    "q r": "qr",
    "info": "information",
    # Creators' earnings programmes: money paid *to* creators, which no entry covers, must not
    # meet the Ads Manager payment entry through "fund" and "pay".
    "creator fund": "creatorfund",
    "creativity program": "creatorfund",
    "creator rewards": "creatorfund",
    "creator rewards program": "creatorfund",
    "creator marketplace": "creatormarketplace",
    "for you page": "fyp",
    "for you": "fyp",
    "blue tick": "badge",
    "blue check": "badge",
    "dark mode": "darkmode",
    "pay creators": "creator earnings",
    "pays creators": "creator earnings",
    "pay influencers": "creator earnings",
    "pay me": "earnings",
    "pays me": "earnings",
    "get paid": "earnings",
    "getting paid": "earnings",
    "make money": "earnings",
    "making money": "earnings",
    # Idioms of taking a permission back, with the object in the middle.
    "take that back": "revoke",
    "take it back": "revoke",
    "take this back": "revoke",
    "take them back": "revoke",
    "take access back": "revoke access",
    "take my account back": "revoke account",
    # Filler of time: "right now" is no right (permission) of anyone.
    "right now": "now",
    "right away": "now",
    # "For good" is for ever, not the opposite of bad.
    "for good": "permanently",
    # "each other" is what "together" says.
    "each other": "together",
    # Durations in the words people use, as the day counts the knowledge base gives.
    "a week": "7 days",
    "one week": "7 days",
    "1 week": "7 days",
    "a month": "30 days",
    "one month": "30 days",
    "1 month": "30 days",
    "two months": "60 days",
    "2 months": "60 days",
    "six months": "180 days",
    "6 months": "180 days",
    "half a year": "180 days",
    "a year": "365 days",
    "one year": "365 days",
    "1 year": "365 days",
    "a whole year": "365 days",
    # What the bot holds on a person.
    "you have on me": "you store about me",
    "you have about me": "you store about me",
    "you know about me": "you store about me",
    "you got on me": "you store about me",
}

# Chat shorthand for whole words, expanded when tokenising (before the phrase rewrites, so
# "what can u do" meets "what can you do"). Only tokens that are no word of their own.
CHAT_SHORTHAND: Final[dict[str, str]] = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "ya": "you",
    "yu": "you",
    "wat": "what",
    "wut": "what",
    "wht": "what",
    "abt": "about",
    "b4": "before",
    "cuz": "because",
    "coz": "because",
    "bcuz": "because",
    "thru": "through",
    "tho": "though",
    "smth": "something",
    "sth": "something",
    "ppl": "people",
    "msg": "message",
    "msgs": "messages",
    "pic": "picture",
    "vid": "video",
    "vids": "videos",
    "accs": "accounts",
    "accts": "accounts",
}

# Everyday words that are kept as terms (they separate some topics) but are no topic in
# themselves: they count for less everywhere, so a rare one ("yet", "inside") that happens to be
# in one phrasing cannot carry a question to that entry, and a question whose only matches are
# such words does not look covered.
WEAK_WORDS: Final[frozenset[str]] = _words(
    """
    now yet still already ever never again later soon else other another thing things stuff way
    ways get gets got getting make makes made making use uses used using new old next last
    different between without within inside while lot lots possible happen happens happened say
    says said give gives gave given take takes took put try tried keep kept come comes came done
    """
)

# Words the stemmer must leave alone because their stem would merge two meanings.
# "Founded" (established) is not the past tense of "find".
UNSTEMMED: Final[frozenset[str]] = frozenset({"linked", "founded", "founding"})

# Soft synonyms: words that usually mean the same thing in this domain but not always. They widen
# the question (never the knowledge base) at a reduced weight, so an exact word still wins over a
# near-synonym. Each row is a group; the weight is how much a group member counts for another.
SYNONYM_GROUPS: Final[tuple[tuple[float, tuple[str, ...]], ...]] = (
    _synonyms(0.9, "unlink disconnect detach unconnect unpair separate"),
    _synonyms(0.6, "unlink remove"),
    _synonyms(0.8, "link connect attach pair integrate hook associate tie join"),
    _synonyms(0.6, "linked link connect attached"),
    _synonyms(0.5, "link add"),
    _synonyms(0.5, "connect add"),
    _synonyms(0.8, "approve accept authorize allow grant confirm consent okay"),
    _synonyms(0.9, "reject decline deny refuse ignore dismiss"),
    _synonyms(0.8, "revoke withdraw rescind cancel"),
    _synonyms(0.6, "revoke remove stop end"),
    _synonyms(0.8, "delete remove erase wipe trash"),
    _synonyms(0.8, "expire expired expiry expiration lapse lapsed outdated"),
    _synonyms(0.7, "invalid wrong incorrect broken error fail failed rejected"),
    _synonyms(0.5, "broken problem issue trouble"),
    _synonyms(0.6, "invalid work working"),
    _synonyms(
        0.7,
        "missing hidden gone disappear absent unavailable find see show visible appear locate",
    ),
    _synonyms(
        0.7,
        "requirement require prerequisite necessary need needed must eligible eligibility "
        "condition criteria mandatory compulsory obligatory required prerequisites prepare ready "
        "beforehand checklist minimum",
    ),
    _synonyms(0.8, "limit maximum max cap ceiling quota howmany"),
    _synonyms(
        0.8,
        "multiple several more two second another various few three four five 2 3 4 5",
    ),
    # "How many" (rewritten to "howmany") asks for a limit more often than it says "several";
    # "many" on its own ("link many accounts") says several.
    _synonyms(0.5, "howmany multiple several"),
    _synonyms(0.8, "many multiple several"),
    _synonyms(0.8, "change edit modify update alter fix correct adjust"),
    _synonyms(0.5, "change switch"),
    _synonyms(0.8, "switch convert turn upgrade move"),
    _synonyms(0.8, "caption text description title wording"),
    _synonyms(0.7, "video post clip content reel"),
    _synonyms(0.9, "comment comments reply respond response answer"),
    _synonyms(0.7, "private hidden privacy"),
    _synonyms(0.8, "public visible everyone"),
    _synonyms(
        0.8,
        "pay payment billing bill card charge fund prepay funds invoice balance credit debit "
        "paypal money topup budget",
    ),
    _synonyms(0.6, "role permission position rights"),
    _synonyms(0.6, "access permission rights control"),
    _synonyms(0.7, "account profile handle username page"),
    _synonyms(0.7, "create setup make open register signup start build new"),
    _synonyms(0.7, "launch start run publish begin first"),
    _synonyms(0.6, "campaign ad promotion objective"),
    _synonyms(0.7, "generate create make obtain produce find"),
    _synonyms(0.8, "valid validity last duration period long lifetime days"),
    _synonyms(0.6, "valid last forever permanent permanently indefinitely unlimited"),
    _synonyms(0.8, "extend renew prolong refresh"),
    _synonyms(0.5, "business professional creator commercial"),
    _synonyms(0.8, "professional creator business"),
    _synonyms(0.6, "personal regular normal private"),
    _synonyms(0.8, "agency partner advertiser marketer freelancer"),
    _synonyms(0.8, "client customer brand"),
    _synonyms(0.7, "owner creator influencer holder"),
    _synonyms(0.8, "request invite invitation ask application apply"),
    _synonyms(0.8, "temporary limited temporarily expiring short"),
    _synonyms(0.8, "message messaging chat messenger inbox direct dm text"),
    _synonyms(0.8, "share crosspost repost publish mirror"),
    _synonyms(0.8, "bot assistant linkpilot you"),
    _synonyms(0.8, "data information details personal"),
    _synonyms(0.8, "store keep save collect retain record log"),
    _synonyms(0.7, "why benefit advantage worth gain point reason purpose unlock pros"),
    _synonyms(0.7, "check verify status confirm tell sure succeed successful success worked"),
    _synonyms(0.6, "success successful successfully properly correctly"),
    _synonyms(0.8, "identity persona display"),
    _synonyms(0.8, "whatis explain definition meaning mean define overview purpose"),
    _synonyms(0.7, "how steps step guide instructions process procedure tutorial"),
    _synonyms(0.6, "login password credentials control"),
    _synonyms(0.8, "help support assist features capabilities commands able"),
    _synonyms(0.8, "timezone currency region country"),
    _synonyms(0.8, "currency usd eur gbp dollar dollars euro euros pounds"),
    _synonyms(0.7, "linked related integrated same together relationship owned"),
    _synonyms(0.8, "both same together simultaneously also"),
    _synonyms(0.7, "option button setting menu tab field toggle switch dropdown"),
    _synonyms(
        0.7,
        "affect impact effect consequence downside downsides drawback drawbacks disadvantage "
        "disadvantages risk lose",
    ),
    _synonyms(
        0.8,
        "person people colleague colleagues coworker coworkers employee employees teammate staff "
        "member user users",
    ),
    _synonyms(0.7, "notification notified alert inbox"),
    _synonyms(0.7, "phone mobile app"),
    _synonyms(0.7, "existing organic regular normal"),
    _synonyms(0.8, "owner admin"),
    _synonyms(0.7, "spark boost promote promoted"),
    _synonyms(0.8, "authorization authorize permission approval"),
)

# Opposite actions: a phrasing that says "remove" is evidence against a question that says "add",
# however many other words they share. Pairs are written as plain words and stemmed.
ANTONYMS: Final[tuple[tuple[str, str], ...]] = (
    ("add", "remove"),
    ("add", "delete"),
    ("link", "unlink"),
    ("connect", "disconnect"),
    ("link", "disconnect"),
    ("connect", "unlink"),
    ("approve", "reject"),
    ("accept", "decline"),
    ("approve", "decline"),
    ("accept", "reject"),
    ("grant", "revoke"),
    ("give", "revoke"),
    ("public", "private"),
    ("enable", "disable"),
    ("create", "delete"),
    ("join", "leave"),
    ("request", "remove"),
)

# Platforms by family, for questions and for the ``platform`` field of entries: a question that
# names TikTok is not about an entry on Instagram, however many other words they share. Meta's
# apps are one family because their entries cover the links between them.
PLATFORM_FAMILIES: Final[dict[str, str]] = {
    "tiktok": "tiktok",
    "meta": "meta",
    "facebook": "meta",
    "instagram": "meta",
    "messenger": "meta",
    "whatsapp": "meta",
}

# Words that place a question inside this bot's domain. A question none of whose words is an
# anchor (or a number/code that occurs in the knowledge base) is declined however well its
# generic words match, so "how do I change my car's oil" never reaches the time-zone entry.
ANCHOR_WORDS: Final[frozenset[str]] = _words(
    """
    tiktok instagram facebook meta messenger whatsapp threads ad ads advert advertise
    advertiser advertising campaign campaigns spark manager adsmanager business center centre
    portfolio suite link linked linking unlink unlinked disconnect connect connected
    authorization authorize authorized approve approval request requests access permission
    permissions partner partners agency agencies client clients creator creators owner owners
    influencer code codes qr identity identities post posts video videos caption comment
    comments payment pay billing currency timezone region role roles admin operator analyst
    bot assistant linkpilot data privacy private professional crosspost message messages
    messaging direct profile handle username follower settings setting followers boost promote
    promoted promotion page pages account accounts revoke expire expired expiry invalid reject
    rejected decline declined asset assets reel reels inbox dm personal dashboard help
    information features commands capabilities adaccount claim password credentials gdpr
    stored store storing save saved remember delete erase
    """
)

# Words that address the bot: a question in the second person about what an entry on Linkpilot
# itself answers ("what do you keep about me?") belongs to the domain without a domain word.
SECOND_PERSON: Final[frozenset[str]] = _words("you your yours")

# --- issue 8, fourth round: the knowledge base's core concepts --------------------------------
# Nearly every entry is about one of a few things between an advertiser and an account owner:
# advertising through TikTok or Meta, linking and authorising (requests, access, partners,
# roles), or codes (Spark Ads and QR codes). An entry most of whose questions name a concept is
# about that concept; a question that names none of an entry's concepts ("turn off comments on
# my own posts", "write me a caption") is most likely about something else that shares a word
# with it, such as one's own account or content. See ``Calibration.concept_weight``.
CONCEPTS: Final[dict[str, frozenset[str]]] = {
    "advertising": _words(
        """
        ad ads advert advertise advertiser advertising promote promoted promotion boost boosted
        campaign campaigns spark sponsored adsmanager adaccount
        """
    ),
    "linking": _words(
        """
        link linked unlink connect connected disconnect authorize authorization authorise
        approve approval request invite partner agency access permission permissions revoke
        grant role roles admin identity
        """
    ),
    "code": _words("code codes qr"),
}
