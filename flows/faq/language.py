"""Tell an English question from one in another language, so the bot never answers it wrongly.

Deliberately small: the knowledge base is English and a wrong answer is worse than a polite
"please ask in English", so this only has to recognise that a question is *not* English. A
question mostly in a non-Latin script is foreign; a Latin-script one is foreign when Spanish or
Portuguese function words outnumber English ones. Product names ("Spark Ads", "Ads Manager",
"Business Center") are left out of the count first: a Portuguese question about Spark Ads has
English words in it that say nothing about its language.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> frozenset[str]:
    """A set of words written as whitespace-separated text."""
    return frozenset(text.split())


# Function and very common words of each language that are not also English words (so "no",
# "me", "a" and "con" are left out). Accented forms are listed as typed; they are also matched
# with the accents stripped.
_SPANISH: Final[frozenset[str]] = _words(
    """
    que qué cómo dónde cuándo cuánto cuánta cuál cuáles por porqué mi mis tu tus su sus el la
    los las del al una unos unas es está están estoy soy hay puedo puede pueden quiero necesito
    tengo tiene hacer hago hace cuenta cuentas código vincular vinculo vinculé desvincular
    ayuda hola gracias pasa ahora cambiar se sé veo ver también pero muy ya mío mí sobre
    dura caducó caduca dueño rechazó solicitud opción página anuncio anuncios publicitaria
    quito quitar acceso agencia datos guarda este esta esto eso para con sin y o
    de en lo le
    """
)
_PORTUGUESE: Final[frozenset[str]] = _words(
    """
    não nao meu minha meus minhas como faço fazer conta contas código uma um os das dos da
    é está estou sou tem posso pode preciso quero onde quanto quanta qual quais dura expirou
    vincular desvincular aparece opção ajuda olá obrigado obrigada agora dá mudar moeda
    anúncio anúncios gerenciador pedido dono recusou remover acesso agência dados guarda sobre
    mim você vocês isso este esta para com sem e ou o que página comercial colo
    de na nas nos ao aos pelo pela
    """
)
# English words that show up in short questions; a question with more of these than foreign
# markers is treated as English (with perhaps a foreign name or two in it).
_ENGLISH: Final[frozenset[str]] = _words(
    """
    the is are am my your you i we it how what why where when who which do does did can could
    should would to of in on at for from with and or not no this that there have has need want
    link account code ads ad an a me our us they be will get
    """
)
# English words that are also Spanish or Portuguese words ("a" is an article in both, "no" is
# Portuguese for "in the"): they say nothing about the language, so they count for neither.
_SHARED: Final[frozenset[str]] = _words("a no")
# Product and platform names as people write them in any language. Their words are dropped
# before counting, so "Spark Ads" or "Ads Manager" never make a foreign question look English.
_PRODUCT_NAMES: Final[tuple[str, ...]] = (
    "spark ads", "ads manager", "business center", "business centre", "business manager",
    "business suite", "meta business", "creator marketplace", "custom identity", "qr code",
    "tiktok", "instagram", "facebook", "meta", "spark", "linkpilot", "insta", "fb", "ig",
)
_PRODUCT = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in _PRODUCT_NAMES) + r")\b")
# Markers shared by both languages above; they count towards "foreign", not towards either.
_IBERIAN_ONLY_SPANISH = _SPANISH - _PORTUGUESE
_IBERIAN_ONLY_PORTUGUESE = _PORTUGUESE - _SPANISH


def _fold(word: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch)
    )


_SPANISH_FOLDED = frozenset(_fold(w) for w in _SPANISH) | _SPANISH
_PORTUGUESE_FOLDED = frozenset(_fold(w) for w in _PORTUGUESE) | _PORTUGUESE
_ONLY_SPANISH_FOLDED = frozenset(_fold(w) for w in _IBERIAN_ONLY_SPANISH)
_ONLY_PORTUGUESE_FOLDED = frozenset(_fold(w) for w in _IBERIAN_ONLY_PORTUGUESE)


def language_of(text: str) -> str:
    """"en" for English (or too little to tell), else a guess: "es", "pt", "ru" or "other".

    "ru" stands for any Cyrillic-script text: the reply is the same whatever the language.
    """
    # Product names are written in Latin letters whatever the language around them, so they
    # are left out of the script count as well as the word count ("Что такое TikTok Business
    # Center?" is Russian).
    unbranded = _PRODUCT.sub(" ", text.casefold())
    letters = [ch for ch in unbranded if ch.isalpha()]
    if not letters:
        return "en"
    foreign_script = [ch for ch in letters if ord(ch) > 0x24F]
    if len(foreign_script) * 2 >= len(letters):
        cyrillic = sum(1 for ch in foreign_script if 0x400 <= ord(ch) <= 0x52F)
        return "ru" if cyrillic * 2 >= len(foreign_script) else "other"
    words = _WORD.findall(unbranded)
    english = sum(1 for w in words if w in _ENGLISH and w not in _SHARED)
    spanish = sum(1 for w in words if w in _SPANISH_FOLDED or _fold(w) in _SPANISH_FOLDED)
    portuguese = sum(
        1 for w in words if w in _PORTUGUESE_FOLDED or _fold(w) in _PORTUGUESE_FOLDED
    )
    foreign = max(spanish, portuguese)
    # Marks English never uses make one marker word enough.
    iberian_marks = any(ch in "ñãõç¿¡" for ch in text.casefold())
    needed = 1 if iberian_marks else 2
    if foreign < needed or foreign <= english:
        return "en"
    only_es = sum(1 for w in words if _fold(w) in _ONLY_SPANISH_FOLDED)
    only_pt = sum(1 for w in words if _fold(w) in _ONLY_PORTUGUESE_FOLDED)
    if "ã" in text or "õ" in text or only_pt > only_es:
        return "pt"
    return "es"
