"""Realistic sample batches of the three "Wine Reviews" source files (DATA_CONTRACT.md section 1).

``python -m tasks.sample --date 2026-11-24 --scale 1.0 --out DIR [--seed 42] [--manifest PATH]``

Writes ``winemag-data-130k-v2.csv``, ``winemag-data-130k-v2.json`` and ``winemag-data_first150k.csv`` into DIR in
the byte layout of the public files (see ../shared/samples), with the public files' profile (NULL rates, points,
prices, tasters, non-ASCII text, no-break spaces, double spaces), exact and white-space-only duplicates, reviews
shared between the 130k and the 150k file, and a small share of dirty records that hit every rejection rule of
the contract. :func:`generate` returns a manifest whose counts are exact by construction (see below).

How the data is built, and why the counts are exact
---------------------------------------------------
* A *review* is a pure function of ``(seed, review number)``: its own ``random.Random`` is seeded from both, so
  any review can be re-created anywhere without keeping earlier ones in memory (memory does not grow with scale).
  Its description embeds five words picked by the mixed-radix digits of a permutation of the review number, so
  two different reviews never share a description, hence never share the natural key (winery, variety,
  description). A few reviews get other prices/points per batch date, so a later batch updates earlier rows.
* Row ``i`` of the 130k files holds review ``i``, or is a copy of an earlier row's review: an exact duplicate
  (~7.7% like the public file) or a white-space-only variant (~1%: inner double space, a U+00A0, trailing
  spaces) that the contract's key normalisation merges. The 150k file shares ~85% of its non-copy rows with
  valid 130k reviews (without taster and title), has reviews of its own (numbered from ``OWN_REVIEWS_BASE``),
  and ~30% in-file exact duplicates like the public first150k file.
* Dirty rows sit at positions laid out by a stratified, seeded scheme; their number per kind is
  ``max(minimum, round(rate * records))``. A dirty row always holds a review nothing else refers to, and fails
  exactly one rule (the one it is counted under), so with the contract's precedence (130k CSV > 130k JSON >
  150k CSV) the manifest's ``rejected``, ``kept`` and ``duplicates`` per file are exact.

Dirty kinds (manifest ``injected``; ``rejected`` sums them per contract reason)
----------------------------------------------------------------------------------
* ``malformed_field_count`` (CSVs): an unquoted comma inside the designation (one field too many) or a record
  that lost its ``region_2`` field (one too few).
* ``malformed_wrapped`` (CSVs): the whole record wrapped in one more pair of quotes, inner quotes doubled, as
  re-saved files in the wild: it parses as one field. Quoting stays balanced, so it never swallows a neighbour.
* ``malformed_invalid_utf8`` (CSVs): the record encoded as cp1252 (``Château`` -> ``Ch\\xe2teau``), which is not
  valid UTF-8; quotes, commas and line ends are ASCII, so the record boundaries are unchanged.
* ``malformed_not_an_object`` (130k JSON only): the element is a string (the record's CSV text), a number, an
  array of the values, or ``null``. Its CSV row is a valid record.
* JSON mirror of the CSV-malformed rows: element ``i`` of the JSON is always the review of CSV row ``i``; for
  the three CSV-only malformed kinds the JSON element is the review's *valid* object (the CSV copy got damaged,
  the JSON one did not), so the JSON keeps those reviews (its ``kept``) and the CSV rejects them.
* ``missing_description`` / ``missing_variety`` / ``missing_winery``: the field is empty (JSON ``null``), spaces
  only, or a lone U+00A0 (a trap for Spark's ASCII-only ``trim``).
* ``bad_points``: ``87.5``, ``eighty``, empty (JSON ``null``), ``79``, ``101``.
* ``bad_price``: ``-5.0``, ``0``, ``abc``, ``150000.0`` (the 150k file writes its prices without ``.0``).
* ``field_too_long``: a 300-character designation, a 70-character country, a 260-character winery, a
  140-character region_1 (ASCII, so characters and bytes agree).
All other fields of a dirty row are valid. Every variant occurs at least once when a file has >= 1000 records.
"""
from __future__ import annotations

import argparse
import bisect
import csv
import datetime as _dt
import hashlib
import io
import itertools
import json
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger("winepipe.sample")

FILE_130K_CSV = "winemag-data-130k-v2.csv"
FILE_130K_JSON = "winemag-data-130k-v2.json"
FILE_150K_CSV = "winemag-data_first150k.csv"
SOURCE_NAMES = {FILE_130K_CSV: "reviews_130k_csv", FILE_130K_JSON: "reviews_130k_json",
                FILE_150K_CSV: "reviews_150k_csv"}
REAL_RECORDS = {FILE_130K_CSV: 129_971, FILE_130K_JSON: 129_971, FILE_150K_CSV: 150_930}
MIN_RECORDS = 40

COLUMNS_130K = ["country", "description", "designation", "points", "price", "province", "region_1", "region_2",
                "taster_name", "taster_twitter_handle", "title", "variety", "winery"]
COLUMNS_150K = ["country", "description", "designation", "points", "price", "province", "region_1", "region_2",
                "variety", "winery"]
# The key order of the public JSON file (see samples/winemag-data-130k-v2.head.json).
JSON_KEYS = ["points", "title", "description", "taster_name", "taster_twitter_handle", "price", "designation",
             "variety", "region_1", "region_2", "province", "country", "winery"]
REASONS = ["malformed_record", "missing_description", "missing_variety", "missing_winery", "bad_points",
           "bad_price", "field_too_long"]

NBSP = "\u00a0"
OWN_REVIEWS_BASE = 40_000_000  # review numbers of the 150k file's own reviews; 130k rows use 0..records-1

# -- dirty kinds: (name, contract reason, rate per record, variants) ---------------------------------------------
_DIRTY_130K: list[tuple[str, str, float, tuple[Any, ...]]] = [
    ("malformed_field_count", "malformed_record", 0.0004, ("extra_field", "missing_field")),
    ("malformed_wrapped", "malformed_record", 0.0003, ("wrapped",)),
    ("malformed_invalid_utf8", "malformed_record", 0.0003, ("cp1252",)),
    ("malformed_not_an_object", "malformed_record", 0.0003, ("string", "number", "array", "null")),
    ("missing_description", "missing_description", 0.0003, ("", "   ", NBSP)),
    ("missing_variety", "missing_variety", 0.0003, ("", "  ", NBSP)),
    ("missing_winery", "missing_winery", 0.0003, ("", " ", NBSP + " ")),
    ("bad_points", "bad_points", 0.0004, ("87.5", "eighty", "", "79", "101")),
    ("bad_price", "bad_price", 0.0003, ("-5.0", "0", "abc", "150000.0")),
    ("field_too_long", "field_too_long", 0.0003, ("designation", "country", "winery", "region_1")),
]
_DIRTY_150K = [d for d in _DIRTY_130K if d[0] != "malformed_not_an_object"]
_CSV_ONLY = {"malformed_field_count", "malformed_wrapped", "malformed_invalid_utf8"}

# -- vocabulary ------------------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split("|") if w.strip()]


_FRUIT_RED = _words("""black cherry|blackberry|cassis|plum|raspberry|red currant|strawberry|cranberry|pomegranate|
blueberry|boysenberry|fig|prune|dried cherry|red cherry|black plum|mulberry|huckleberry|marionberry|sour cherry|
black currant|wild strawberry|red plum|damson plum|loganberry|black raspberry|candied cherry|raspberry jam|
blackberry jam|cherry compote|stewed plum|bramble|red berry|black fruit|dark berry|ripe cherry|baked plum|kirsch|
date|raisin|dried fig|rhubarb|cherry cola|cranberry sauce|plum sauce|elderberry|chokecherry|red licorice""")
_FRUIT_WHITE = _words("""green apple|yellow apple|pear|quince|lemon|lime|grapefruit|orange peel|tangerine|pineapple|
mango|guava|passion fruit|peach|apricot|nectarine|melon|lychee|white peach|Meyer lemon|kiwi|gooseberry|baked apple|
pineapple rind|lemon pith|lime zest|citrus|stone fruit|honeydew|cantaloupe|papaya|Asian pear|Bosc pear|red apple|
candied lemon|mandarin orange|yuzu|starfruit|banana|white cherry|green pear|lemon curd|orange marmalade|
dried apricot|quince paste|grapefruit pith|pomelo|tropical fruit""")
_NOTES = _words("""vanilla|toast|smoke|graphite|cedar|tobacco|leather|espresso|mocha|dark chocolate|licorice|anise|
clove|cinnamon|black pepper|white pepper|sage|thyme|rosemary|mint|eucalyptus|violet|rose petal|orange blossom|
honeysuckle|jasmine|acacia|honey|brioche|hazelnut|almond|flint|wet stone|crushed rock|sea salt|petrol|forest floor|
mushroom|crème brûlée|garrigue|lavender|butterscotch|caramel|cigar box|tar|dried herb|brimstone|beeswax|ginger|
nutmeg|coconut|coffee bean|bacon fat|iron|pencil shavings""")
_ADJ = _words("""ripe|bright|subtle|intense|earthy|lush|savory|delicate|brooding|lifted|heady|smoky|zesty|inviting|
restrained|generous|pretty|dusty|exotic|floral|spicy|muted|vibrant|toasty|herbal|fresh|rich|juicy|perfumed|gentle""")
_TEXTURE = _words("""silky|velvety|firm|chewy|supple|round|lean|taut|plush|creamy|crisp|brisk|grippy|polished|dense|
soft|structured|layered|racy|broad|smooth|tangy|focused|elegant|sleek|concentrated""")
_FRUIT_N = min(len(_FRUIT_RED), len(_FRUIT_WHITE))
_RADICES = (_FRUIT_N, _FRUIT_N, len(_NOTES), len(_ADJ), len(_TEXTURE))
_DESC_SPACE = math.prod(_RADICES)
_PERM_A = 1_000_003
for _lst in (_FRUIT_RED, _FRUIT_WHITE, _NOTES, _ADJ, _TEXTURE):
    assert len(set(_lst)) == len(_lst), "duplicate vocabulary words would break description uniqueness"
assert math.gcd(_PERM_A, _DESC_SPACE) == 1 and _DESC_SPACE > OWN_REVIEWS_BASE * 1.5

_S1 = [
    "{A} aromas of {f1}, {f2} and {n} {lead}.",
    "{A} {f1} and {f2} scents mingle with hints of {n} on the nose.",
    "This opens with {a} notes of {f1}, {f2} and {n}.",
    "{A} and approachable, this {kind} offers {f1}, {f2} and {n} aromas.",
    "Made from {src}, this {kind} shows {a} tones of {f1}, {f2} and {n}.",
    "There's a {a} core of {f1} and {f2} here, accented by {n}.",
]
_LEAD = _words("lead the way|open this wine|jump from the glass|start things off|set the stage|greet the taster")
_SRC = _words("""estate fruit|old vines|a single vineyard|hillside parcels|organically farmed grapes|
a cool-climate site|purchased fruit|the winery's oldest block|volcanic soils|limestone slopes""")
_S2 = [
    "The palate is {t} and {t2}, with {g} and {m} flavors {that}.",
    "On the {t} palate, {g} and {m} notes are framed by {tannin} tannins.",
    "It's {t} in the mouth, offering {g}, {m} and a touch of {m2}.",
    "The {t}, {t2} palate delivers {g} and {m}, {extra}.",
    "{T} and {t2}, it brings {g} flavors alongside {acid} acidity.",
]
_THAT = _words("""that carry through to the finish|that linger|that build in intensity|giving way to a spicy finish|
that need time to unwind|that are a bit short on the finish""")
_TANNIN = _words("firm|fine-grained|dusty|ripe|chalky|supple|grippy|polished|rustic|velvety|sturdy|soft")
_ACID = _words("brisk|lively|bright|fresh|crisp|zesty|tangy|refreshing|mouthwatering|racy")
_EXTRA = _words("""while the finish is long and savory|all wrapped in a creamy texture|
with a hint of bitterness at the end|backed by a streak of minerality|finishing dry and persistent|and the alcohol is well integrated""")
_S3 = [
    "{Acid} acidity and {tannin} tannins give it {shape}.",
    "The finish is {fin} and {fin2}, with lingering {m} notes.",
    "Firm tannins are filled out with juicy {g} fruit and freshened with acidity.",
    "It's a bit {flaw} now, but should open up with some air.",
    "Aged {months} months in {pct}% new French oak, it shows {m} and {m2} on the close.",
    "This blend of {v1} and {v2} is balanced, with {fin} structure.",
    "Nonetheless, it's a good companion to {food}.",
]
_SHAPE = _words("shape and lift|a sense of tension|good balance|plenty of grip|a lean, focused profile|real presence")
_FIN = _words("long|dry|savory|spicy|lingering|clean|warm|tart|persistent|mineral|peppery|short")
_FLAW = _words("closed|tight|oaky|alcoholic|hard|reduced|sweet|simple|tannic")
_FOOD = _words("""a hearty winter stew|grilled lamb|roast chicken|oysters|spicy Thai dishes|aged cheeses|
mushroom risotto|charcuterie|grilled salmon|crème fraîche and smoked trout|pâté|barbecued ribs""")
_BLENDV = _words("Merlot|Cabernet Franc|Syrah|Grenache|Mourvèdre|Petit Verdot|Malbec|Tempranillo|Sangiovese|Carignan")
_S4 = [
    "Drink now through {y}.", "Drink from {y}.", "Enjoy {y}–{y2}.", "Best after {y}.", "Drink now.",
    'The winery calls this its "{nick}" bottling.', "It's a {price_word} buy.", "Château-style, and proud of it.",
    "The {nick} cuvée is a Best Buy.", "Cellar Selection.", "Editors’ Choice.", "Hold—this needs time.",
]
_NICK = _words("house|flagship|reserve|Grand Vin|old vine|signature|estate|Cuvée Spéciale|everyday|icon")
_PRICE_WORD = _words("great|good-value|solid|smart|terrific")

_TASTERS = {  # name -> twitter handle, as in the public file (U+00A0 after @paulgwine and inside Krebiehl MW)
    "Roger Voss": "@vossroger", "Michael Schachner": "@wineschach", "Kerin O’Keefe": "@kerinokeefe",
    "Virginie Boone": "@vboone", "Paul Gregutt": "@paulgwine" + NBSP, "Matt Kettmann": "@mattkettmann",
    "Joe Czerwinski": "@JoeCz", "Sean P. Sullivan": "@wawinereport", "Anna Lee C. Iijima": None,
    "Jim Gordon": "@gordone_cellars", "Anne Krebiehl" + NBSP + "MW": "@AnneInVino", "Lauren Buzzeo": "@laurbuzz",
    "Susan Kostrzewa": "@suskostrzewa", "Mike DeSimone": "@worldwineguys", "Jeff Jenssen": "@worldwineguys",
    "Alexander Peartree": None, "Carrie Dykes": None, "Fiona Adams": "@bkfiona",
    "Christina Pickard": "@winewchristina",
}
_ANNE = "Anne Krebiehl" + NBSP + "MW"

# country -> (weight, P(region_1 NULL), tasters "name:weight,...", provinces)
# province: (name, weight, regions "r1>r2|r1>r2" (r2 only for the US), varieties "v:w,...")
_GEO: dict[str, tuple[float, float, str, list[tuple[str, float, str, str]]]] = {
    "US": (41.9, 0.01, "", [
        ("California", 66, "Napa Valley>Napa|Oakville>Napa|Rutherford>Napa|Russian River Valley>Sonoma|"
         "Sonoma Coast>Sonoma|Alexander Valley>Sonoma|Dry Creek Valley>Sonoma|Knights Valley>Sonoma|"
         "Paso Robles>Central Coast|Santa Lucia Highlands>Central Coast|Sta. Rita Hills>Central Coast|"
         "Santa Barbara County>Central Coast|Edna Valley>Central Coast|Santa Cruz Mountains>Central Coast|"
         "Carneros>Napa-Sonoma|Lodi>Central Valley|Sierra Foothills>Sierra Foothills|"
         "Mendocino>Mendocino/Lake Counties|California>California Other",
         "Pinot Noir:14,Cabernet Sauvignon:14,Chardonnay:14,Zinfandel:7,Red Blend:6,Sauvignon Blanc:4,Syrah:4,"
         "Merlot:3,Petite Sirah:2,Rosé:2,Sparkling Blend:2,Viognier:1,Grenache:1,"
         "Bordeaux-style Red Blend:3,Cabernet Franc:1,Rhône-style Red Blend:1"),
        ("Washington", 16, "Columbia Valley (WA)>Columbia Valley|Walla Walla Valley (WA)>Columbia Valley|"
         "Yakima Valley>Columbia Valley|Red Mountain>Columbia Valley|Horse Heaven Hills>Columbia Valley|"
         "Washington>Washington Other",
         "Cabernet Sauvignon:8,Syrah:5,Merlot:5,Red Blend:5,Riesling:4,Chardonnay:4,Bordeaux-style Red Blend:3,"
         "Cabernet Franc:1,Sauvignon Blanc:1"),
        ("Oregon", 10, "Willamette Valley>Willamette Valley|Dundee Hills>Willamette Valley|"
         "Eola-Amity Hills>Willamette Valley|Chehalem Mountains>Willamette Valley|Ribbon Ridge>Willamette Valley|"
         "Southern Oregon>Southern Oregon|Rogue Valley>Southern Oregon|Oregon>Oregon Other",
         "Pinot Noir:12,Pinot Gris:3,Chardonnay:3,Riesling:1,Rosé:1,Pinot Blanc:1"),
        ("New York", 5, "Finger Lakes>Finger Lakes|North Fork of Long Island>Long Island|New York>New York Other",
         "Riesling:6,Cabernet Franc:3,Chardonnay:3,Merlot:2,Gewürztraminer:1,Rosé:1,Sparkling Blend:1"),
        ("Virginia", 2, "Virginia|Monticello|Middleburg",
         "Bordeaux-style Red Blend:3,Viognier:2,Cabernet Franc:2,Red Blend:2,Petit Verdot:1,Meritage:1,"
         "Chardonnay:1"),
        ("Michigan", 0.4, "Lake Michigan Shore|Old Mission Peninsula", "Riesling:3,Pinot Gris:1,Chardonnay:1"),
        ("Idaho", 0.4, "Snake River Valley", "Syrah:1,Riesling:1,Chardonnay:1"),
    ]),
    "France": (17.0, 0.01, "Roger Voss:85,Lauren Buzzeo:5,Anne Krebiehl" + NBSP + "MW:4,:6", [
        ("Bordeaux", 27, "Pauillac|Saint-Émilion|Margaux|Pessac-Léognan|Bordeaux Supérieur|Haut-Médoc|Saint-Julien|"
         "Pomerol|Sauternes|Bordeaux Blanc", "Bordeaux-style Red Blend:8,Bordeaux-style White Blend:2,Merlot:1"),
        ("Burgundy", 27, "Meursault|Chablis|Gevrey-Chambertin|Pouilly-Fuissé|Bourgogne|Puligny-Montrachet|"
         "Nuits-St.-Georges|Mâcon-Villages", "Pinot Noir:5,Chardonnay:6"),
        ("Champagne", 7, "Champagne", "Champagne Blend:5,Chardonnay:1,Pinot Noir:1"),
        ("Loire Valley", 9, "Sancerre|Vouvray|Muscadet Sèvre et Maine|Chinon|Anjou|Saumur",
         "Sauvignon Blanc:4,Chenin Blanc:3,Cabernet Franc:2,Melon:1,Rosé:1"),
        ("Alsace", 9, "Alsace|Alsace Grand Cru Schlossberg|Crémant d'Alsace",
         "Riesling:4,Gewürztraminer:3,Pinot Gris:3,Pinot Blanc:1,Sparkling Blend:1"),
        ("Rhône Valley", 7, "Côtes du Rhône|Châteauneuf-du-Pape|Crozes-Hermitage|Gigondas|Vacqueyras",
         "Rhône-style Red Blend:5,Syrah:2,Grenache:1,Rhône-style White Blend:1"),
        ("Southwest France", 5, "Cahors|Madiran|Côtes de Gascogne|Bergerac", "Malbec:2,Tannat:1,Colombard:1,"
         "Bordeaux-style Red Blend:1"),
        ("Provence", 4, "Côtes de Provence|Bandol|Coteaux d'Aix-en-Provence", "Rosé:6,Provence red blend:1"),
        ("Languedoc-Roussillon", 3, "Languedoc|Pic Saint-Loup|Corbières|Minervois", "Red Blend:3,Syrah:1,Rosé:1"),
        ("Beaujolais", 2, "Morgon|Fleurie|Beaujolais-Villages|Moulin-à-Vent", "Gamay:1"),
    ]),
    "Italy": (15.0, 0.02, "Kerin O’Keefe:80,:20", [
        ("Tuscany", 38, "Chianti Classico|Brunello di Montalcino|Toscana|Bolgheri|Vino Nobile di Montepulciano|"
         "Morellino di Scansano", "Sangiovese:6,Red Blend:4,Sangiovese Grosso:3,Vermentino:1"),
        ("Piedmont", 23, "Barolo|Barbaresco|Barbera d'Alba|Langhe|Roero|Dolcetto d'Alba",
         "Nebbiolo:6,Barbera:3,Dolcetto:1,Arneis:1"),
        ("Veneto", 14, "Amarone della Valpolicella Classico|Valpolicella Classico Superiore|Soave Classico|"
         "Prosecco Superiore|Prosecco", "Corvina, Rondinella, Molinara:4,Garganega:2,Glera:2,Prosecco:1"),
        ("Sicily & Sardinia", 12, "Etna|Vittoria|Sicilia|Cannonau di Sardegna|Vermentino di Gallura",
         "Nero d'Avola:3,Nerello Mascalese:2,Frappato:1,White Blend:2,Cannonau:1,Vermentino:1,Carricante:1"),
        ("Northeastern Italy", 7, "Alto Adige|Collio|Friuli Colli Orientali",
         "Pinot Grigio:2,Friulano:1,Pinot Bianco:1,Sauvignon:1,Lagrein:1"),
        ("Southern Italy", 6, "Taurasi|Fiano di Avellino|Primitivo di Manduria|Aglianico del Vulture",
         "Aglianico:2,Fiano:1,Primitivo:2,Greco:1"),
    ]),
    "Spain": (5.1, 0.01, "Michael Schachner:95,:5", [
        ("Northern Spain", 60, "Rioja|Ribera del Duero|Toro|Navarra|Rueda|Rías Baixas|Bierzo",
         "Tempranillo:5,Tempranillo Blend:3,Tinta de Toro:1,Verdejo:1,Albariño:1,Mencía:1,Garnacha:1,"
         "Tempranillo-Merlot:1"),
        ("Catalonia", 20, "Priorat|Cava|Penedès|Montsant", "Red Blend:2,Sparkling Blend:2,Garnacha:1,Cariñena:1"),
        ("Levante", 10, "Jumilla|Yecla|Valencia|Alicante", "Monastrell:3,Red Blend:1"),
        ("Central Spain", 10, "Vino de la Tierra de Castilla|La Mancha", "Tempranillo:2,Syrah:1"),
    ]),
    "Portugal": (4.4, 1.0, "Roger Voss:95,:5", [
        ("Douro", 40, "", "Portuguese Red:6,Touriga Nacional:1,Portuguese White:1"),
        ("Alentejano", 15, "", "Portuguese Red:3,Portuguese White:1"),
        ("Vinho Verde", 12, "", "Portuguese White:3,Alvarinho:1,Rosé:1"),
        ("Port", 10, "", "Port:1"), ("Dão", 7, "", "Portuguese Red:2,Encruzado:1"),
        ("Bairrada", 5, "", "Baga:1,Portuguese Sparkling:1"), ("Lisboa", 6, "", "Portuguese Red:1"),
        ("Tejo", 5, "", "Portuguese Red:1,Portuguese White:1"),
    ]),
    "Chile": (3.4, 0.98, "Michael Schachner:95,:5", [
        (p, w, "", "Cabernet Sauvignon:4,Carmenère:3,Sauvignon Blanc:3,Chardonnay:2,Red Blend:2,Syrah:1,"
         "Pinot Noir:1,Merlot:1")
        for p, w in (("Colchagua Valley", 25), ("Maipo Valley", 20), ("Casablanca Valley", 12),
                     ("Maule Valley", 8), ("Aconcagua Valley", 6), ("Central Valley", 12), ("Leyda Valley", 5))]),
    "Argentina": (2.9, 0.05, "Michael Schachner:95,:5", [
        ("Mendoza Province", 80, "Mendoza|Uco Valley|Luján de Cuyo|Perdriel|Valle de Uco",
         "Malbec:10,Cabernet Sauvignon:2,Red Blend:2,Bonarda:1,Chardonnay:1,Cabernet Franc:1"),
        ("Other", 20, "Salta|Cafayate|Patagonia|San Juan", "Malbec:3,Torrontés:2,Pinot Noir:1"),
    ]),
    "Austria": (2.6, 1.0, _ANNE + ":60,Roger Voss:35,:5", [
        (p, w, "", "Grüner Veltliner:6,Riesling:3,Blaufränkisch:2,Zweigelt:2,Sauvignon Blanc:1,St. Laurent:1,"
         "Welschriesling:1") for p, w in (("Wachau", 10), ("Kamptal", 10), ("Kremstal", 8), ("Burgenland", 12),
                                          ("Niederösterreich", 10), ("Carnuntum", 3), ("Südsteiermark", 3),
                                          ("Weinviertel", 5), ("Wagram", 3))]),
    "Australia": (1.8, 0.02, "Joe Czerwinski:90,Christina Pickard:1,:9", [
        ("South Australia", 55, "Barossa Valley|McLaren Vale|Clare Valley|Adelaide Hills|Coonawarra",
         "Shiraz:6,Cabernet Sauvignon:2,Grenache:1,Riesling:1,Chardonnay:1,Shiraz-Cabernet Sauvignon:1"),
        ("Victoria", 15, "Yarra Valley|Heathcote|Mornington Peninsula", "Pinot Noir:2,Chardonnay:2,Shiraz:1"),
        ("Western Australia", 12, "Margaret River|Great Southern", "Cabernet Sauvignon:2,Chardonnay:2"),
        ("New South Wales", 8, "Hunter Valley", "Semillon:1,Shiraz:1"),
        ("Australia Other", 10, "South Eastern Australia", "Shiraz:2,Chardonnay:1"),
    ]),
    "Germany": (1.7, 0.9, "Anna Lee C. Iijima:85," + _ANNE + ":10,:5", [
        (p, w, "", "Riesling:15,Pinot Noir:1,Gewürztraminer:1,Pinot Blanc:1,Silvaner:1,Grauburgunder:1")
        for p, w in (("Mosel", 40), ("Rheingau", 15), ("Rheinhessen", 15), ("Pfalz", 15), ("Nahe", 8),
                     ("Franken", 3), ("Baden", 4))]),
    "New Zealand": (1.1, 0.98, "Joe Czerwinski:85,Christina Pickard:5,:10", [
        (p, w, "", "Sauvignon Blanc:5,Pinot Noir:4,Chardonnay:1,Pinot Gris:1,Bordeaux-style Red Blend:1,Syrah:1")
        for p, w in (("Marlborough", 50), ("Central Otago", 20), ("Hawke's Bay", 15), ("Martinborough", 8),
                     ("Nelson", 7))]),
    "South Africa": (1.1, 1.0, "Lauren Buzzeo:85,Susan Kostrzewa:10,:5", [
        (p, w, "", "Chenin Blanc:3,Pinotage:2,Sauvignon Blanc:2,Cabernet Sauvignon:2,Shiraz:1,"
         "Bordeaux-style Red Blend:1") for p, w in (("Stellenbosch", 40), ("Western Cape", 25), ("Swartland", 10),
                                                     ("Paarl", 8), ("Coastal Region", 10), ("Franschhoek", 7))]),
    "Israel": (0.4, 1.0, "Mike DeSimone:50,Jeff Jenssen:50", [
        (p, 1, "", "Cabernet Sauvignon:3,Red Blend:2,Syrah:1,Chardonnay:1")
        for p in ("Galilee", "Judean Hills", "Shomron")]),
    "Greece": (0.36, 0.9, "Susan Kostrzewa:90,Fiona Adams:5,:5", [
        ("Santorini", 1, "Santorini", "Assyrtiko:1"), ("Nemea", 1, "Nemea", "Agiorgitiko:1"),
        ("Macedonia", 1, "Naoussa", "Xinomavro:1"), ("Peloponnese", 1, "Mantinia", "Moschofilero:1")]),
    "Canada": (0.2, 0.05, "Sean P. Sullivan:40,Paul Gregutt:30,Carrie Dykes:20,:10", [
        ("British Columbia", 1, "Okanagan Valley", "Pinot Noir:1,Merlot:1,Chardonnay:1"),
        ("Ontario", 1, "Niagara Peninsula", "Riesling:2,Cabernet Franc:1,Vidal Blanc:1")]),
    "Hungary": (0.1, 1.0, "Jeff Jenssen:50,Mike DeSimone:50", [("Tokaji", 1, "", "Furmint:2,Tokaji:1")]),
    "Uruguay": (0.1, 1.0, "Michael Schachner:100", [("Canelones", 1, "", "Tannat:3,Albariño:1"),
                                                     ("Juanico", 1, "", "Tannat:1")]),
    "England": (0.06, 1.0, _ANNE + ":100", [("England", 1, "", "Sparkling Blend:3,Chardonnay:1")]),
    "Georgia": (0.06, 1.0, "Mike DeSimone:50,Jeff Jenssen:50", [("Kakheti", 1, "", "Saperavi:2,Rkatsiteli:1")]),
}
# US reviews of these provinces get these tasters (weights), the rest of the US a mix with many NULLs.
_US_TASTERS = {
    "California": "Virginie Boone:30,Matt Kettmann:22,Jim Gordon:15,:33",
    "Washington": "Sean P. Sullivan:55,Paul Gregutt:15,:30",
    "Oregon": "Paul Gregutt:62,:38", "New York": "Anna Lee C. Iijima:70,:30",
    "Virginia": "Alexander Peartree:55,Carrie Dykes:10,:35", "Michigan": "Alexander Peartree:60,:40",
    "Idaho": "Sean P. Sullivan:50,Paul Gregutt:20,:30",
}
_WHITE = {"Chardonnay", "Sauvignon Blanc", "Riesling", "Pinot Gris", "Gewürztraminer", "Viognier", "Pinot Blanc",
          "Chenin Blanc", "Melon", "Colombard", "Vermentino", "Arneis", "Garganega", "Glera", "Prosecco",
          "White Blend", "Carricante", "Pinot Grigio", "Friulano", "Pinot Bianco", "Sauvignon", "Fiano", "Greco",
          "Verdejo", "Albariño", "Portuguese White", "Alvarinho", "Encruzado", "Torrontés", "Grüner Veltliner",
          "Welschriesling", "Semillon", "Silvaner", "Grauburgunder", "Assyrtiko", "Moschofilero", "Vidal Blanc",
          "Furmint", "Tokaji", "Rkatsiteli", "Bordeaux-style White Blend", "Rhône-style White Blend", "Rosé",
          "Champagne Blend", "Sparkling Blend", "Portuguese Sparkling"}
_SPARKLING = {"Champagne Blend", "Sparkling Blend", "Portuguese Sparkling", "Prosecco", "Glera"}
_BLEND_TITLE = {"White Blend": "White", "Red Blend": "Red", "Bordeaux-style Red Blend": "Red",
                "Rhône-style Red Blend": "Red", "Portuguese Red": "Red", "Portuguese White": "White",
                "Champagne Blend": "Brut", "Sparkling Blend": "Brut", "Tempranillo Blend": "Tinto",
                "Bordeaux-style White Blend": "Blanc", "Rhône-style White Blend": "Blanc",
                "Provence red blend": "Rouge", "Corvina, Rondinella, Molinara": "", "Nerello Mascalese": "",
                "Portuguese Sparkling": "Bruto"}

_WINERIES = {
    "US": ("Rainstorm|Sweet Cheeks|St. Julian|Kirkland Signature|Louis M. Martini|Mirassou|Heitz|Macauley|Ponzi|"
           "Williams Selyem|Ridge|Bonny Doon|Chateau Ste. Michelle|Columbia Crest|Kendall-Jackson|Beringer|"
           "Cakebread|Duckhorn|Stag's Leap|Robert Mondavi|Sineann|Adelsheim|Argyle|Domaine Serene|"
           "L'Ecole No. 41|Woodward Canyon|Dr. Konstantin Frank|Hermann J. Wiemer|Barboursville|King Family|"
           "Quiévremont|Gundlach Bundschu|Frog's Leap|Turley|Seghesio|Bogle|Jordan|1000 Stories|Patricia Green|"
           "Penner-Ash|Failla|Testarossa|Bergström|Dusky Goose|Januik|Gramercy Cellars|Cayuse|Ravenswood",
           "Cellars|Vineyards|Winery|Estate|Family Wines|Wine Co.|Ranch",
           "Miller|Hughes|Carver|Sullivan|Parker|Ellis|Morgan|Reyes|Nakamura|Lindqvist|Brooks|Kessler|Alder|"
           "Whitcomb|Harlow|Pritchard|Delgado|Brennan|Holloway|Cortez|Abbott|Fenwick|Stratton|Larkspur|Redtail|"
           "Cedar Ridge|Stone Hill|Fox Hollow|Oak Knoll|Blue Heron|Silver Creek|Black Bear|Coyote Canyon"),
    "France": ("Trimbach|Leon Beyer|Jean-Baptiste Adam|Hugel|Zind-Humbrecht|Faiveley|Joseph Drouhin|"
               "Bouchard Père & Fils|Louis Latour|Louis Jadot|Albert Bichot|Moët & Chandon|Pol Roger|Ruinart|"
               "Gosset|Taittinger|Vincent Girardin|M. Chapoutier|E. Guigal|Paul Jaboulet Aîné|Georges Duboeuf|"
               "Domaine de la Bégude|Cave de Lugny|Les Vignerons de Buzet",
               "", "Château Bélair|Château Lafon|Château Pichon|Château Léoville|Château Gruaud|Château Fontenil|"
               "Château Montrose|Château de la Rivière|Château Haut-Brion|Château Cantenac|Château Giscours|"
               "Château Lagrange|Château Figeac|Château Pavie|Château Rieussec|Domaine Thibault|Domaine Rémy|"
               "Domaine des Cèdres|Domaine Laroche|Domaine Weinbach|Domaine Huet|Domaine du Vieux Télégraphe|"
               "Domaine Tempier|Clos des Papes|Clos Sainte Magdeleine|Maison Roche de Bellene|Château d'Aquéria"),
    "Italy": ("Nicosia|Terre di Giurfo|Masseria Setteporte|Antinori|Frescobaldi|Castello Banfi|Ruffino|Gaja|"
              "Pio Cesare|Allegrini|Masi|Tasca d'Almerita|Planeta|Feudi di San Gregorio|Mastroberardino|"
              "Tenuta San Guido|Bisol|Zenato|Ca' del Bosco|Elena Walch|Livio Felluga|Marchesi di Barolo",
              "", "Tenuta di Arceno|Fattoria Le Pupille|Castello di Ama|Poggio Antico|Podere Salicutti|"
              "Cantina Tramin|Tenuta delle Terre Nere|Cascina Fontana|Azienda Agricola Brovia|Villa Sparina|"
              "Tenuta Sette Ponti|Fattoria dei Barbi|Vignalta|Cantine Florio|Tenuta Rapitalà"),
    "Spain": ("Tandem|Numanthia|Bodega Carmen Rodríguez|Pradorey|Marqués de Riscal|Bodegas Muga|Vega Sicilia|"
              "CVNE|La Rioja Alta|Martín Códax|Torres|Codorníu|Freixenet|Bodegas Juan Gil|Alvaro Palacios",
              "", "Bodegas Valdemar|Viña Herminia|Bodegas Fariña|Finca Villacreces|Celler de Capçanes|"
              "Bodegas Ontañón|Dominio de Tares|Bodegas Olivares|Viñedos de Aldeanueva|Bodega Classica"),
    "Portugal": ("Quinta dos Avidagos|Quinta do Crasto|Quinta do Vallado|Herdade do Esporão|Casa Ferreirinha|"
                 "Niepoort|Taylor Fladgate|Graham's|Dow's|Fonseca|Aveleda|Quinta da Aveleda|Luis Pato|"
                 "Adega Cooperativa de Borba|Casa Santos Lima|Quinta das Carvalhas|Symington", "", ""),
    "Chile": ("Concha y Toro|Montes|Viña Errázuriz|Santa Rita|Casa Lapostolle|Viña Leyda|Cono Sur|Emiliana|"
              "Viña Maipo|Undurraga|Viu Manent|Casas del Bosque|Koyle|Santa Carolina", "", ""),
    "Argentina": ("Felix Lavaque|Gaucho Andino|Catena Zapata|Zuccardi|Trapiche|Norton|Alamos|Achával-Ferrer|"
                  "Bodega Colomé|Susana Balbo|Doña Paula|Finca Decero|Kaiken|Bodega Amalaya", "", ""),
    "Austria": ("Weingut Bründlmayer|Domäne Wachau|Weingut Hirsch|Loimer|Nikolaihof|F.X. Pichler|"
                "Weingut Knoll|Markus Huber|Schloss Gobelsburg|Moric|Weingut Stadt Krems|Jurtschitsch", "", ""),
    "Australia": ("Penfolds|Yalumba|Henschke|d'Arenberg|Wolf Blass|Jacob's Creek|Two Hands|Torbreck|"
                  "Leeuwin Estate|Cullen|Tyrrell's|Yering Station|19 Crimes|Mollydooker", "", ""),
    "Germany": ("Heinz Eifel|Richard Böcking|Dr. Loosen|Weingut Robert Weil|Schloss Johannisberg|"
                "Joh. Jos. Prüm|Weingut Dönnhoff|Dr. Bürklin-Wolf|Selbach-Oster|Weingut Wittmann|"
                "Von Schleinitz|St. Urbans-Hof|Weingut Künstler", "", ""),
    "New Zealand": ("Cloudy Bay|Villa Maria|Kim Crawford|Felton Road|Craggy Range|Oyster Bay|Brancott|"
                    "Saint Clair|Ata Rangi|Nautilus|Seresin|Te Mata", "", ""),
    "South Africa": ("Kanonkop|Meerlust|Mulderbosch|Ken Forrester|Boekenhoutskloof|Spier|Graham Beck|"
                     "Fairview|Rustenberg|DeMorgenzon|Simonsig|Bellingham", "", ""),
    "Israel": ("Golan Heights Winery|Recanati|Carmel|Dalton|Tabor|Barkan|Psagot|Shiloh", "", ""),
    "Greece": ("Domaine Sigalas|Gaia|Kir-Yianni|Boutari|Tselepos|Santo Wines|Alpha Estate", "", ""),
    "Canada": ("Mission Hill|Inniskillin|Quails' Gate|Cave Spring|Tawse|Burrowing Owl", "", ""),
    "Hungary": ("Royal Tokaji|Disznókő|Oremus|Grand Tokaj", "", ""),
    "Uruguay": ("Bodega Garzón|Pisano|Juanicó|Bouza", "", ""),
    "England": ("Nyetimber|Ridgeview|Chapel Down|Gusbourne", "", ""),
    "Georgia": ("Teliani Valley|Tbilvino|Shumi|Pheasant's Tears", "", ""),
}
# More wineries, built as "<prefix> <name>" in the country's idiom: the public file has ~16,700 of them.
_WINERY_PATTERNS = {
    "France": ("Château|Domaine|Clos|Maison|Domaine de la", "Bellevue|Fontaine|Marchand|Roussel|Garnier|Lefèvre|"
               "Mercier|Boyer|Caillou|Rochebelle|Grand Moulin|Côte Rôtie|Sainte-Anne|Mont-Redon|Hautes Terres|"
               "Vieux Chêne|Saint-Pierre|Lamothe|Peyrac|Bernadotte|Brégançon|Fiefs|Croix|Tour Blanche"),
    "Italy": ("Tenuta|Cantina|Podere|Fattoria|Azienda Agricola|Castello di", "Rossi|Bianchi|Ferrari|Colombo|"
              "Ricci|Marino|Greco|Bruno|Gallo|Conti|Mancini|Costa|Giordano|Rizzo|Lombardi|Moretti|Barone|"
              "Villa Bella|Montebello|San Felice|Sant'Antonio|Poggio al Sole|Ca' Rugate|Monteverro"),
    "Spain": ("Bodegas|Viña|Celler|Finca|Dominio de", "Arroyo|Solar|Ramírez|Fernández|Martínez|Abadía|Valserrano|"
              "Pago del Cielo|Las Moradas|Los Olivos|Castaño|Peñalba|Aalto|Montecillo|Hermanos Sastre|Ondarre"),
    "Portugal": ("Quinta do|Quinta da|Herdade do|Casa de|Adega de", "Noval|Portal|Vale Meão|Passadouro|Romeira|"
                 "Carmo|Mouchão|Soalheiro|Cabriz|Lagoalva|Sanguinhal|Pancas|Bacalhôa|Roques|Alorna"),
    "Germany": ("Weingut|Schloss|Weingut Dr.", "Müller|Schäfer|Becker|Hoffmann|Bassermann|Kesseler|Leitz|"
                "Fröhlich|Haart|Molitor|Schönleber|Wagner|Zilliken|Gunderloch|Keller|Rebholz|Vollrads"),
    "Austria": ("Weingut|Domäne|Stift", "Gritsch|Hiedler|Högl|Jamek|Prager|Salomon|Schloss Halbturn|"
                "Tement|Umathum|Wenzel|Nittnaus|Pöckl|Gesellmann|Kollwentz|Sattlerhof"),
    "Chile": ("Viña|Bodega|Casa", "Tarapacá|Aquitania|Bisquertt|Carmen|Caliterra|Echeverría|Falernia|Garcés Silva|"
              "Indómita|Luis Felipe Edwards|Matetic|Morandé|Pérez Cruz|Siegel|Ventisquero"),
    "Argentina": ("Bodega|Finca|Viña", "Lurton|Bressia|Sophenia|Clos de los Siete|El Esteco|La Celia|Las Perdices|"
                  "Luigi Bosca|Mendel|Pulenta|Renacer|Ruca Malén|Salentein|Tapiz|Trivento"),
}
for _c, (_pre, _names) in _WINERY_PATTERNS.items():
    assert _c in _WINERIES

_DESIGNATIONS = {
    "US": "Reserve|Estate|Estate Grown|Old Vine|Barrel Select|Private Reserve|Reserve Late Harvest|"
          "Vintner's Reserve Wild Child Block|Mountain Cuvée|Proprietary Red|Single Vineyard|Dry|Brut|"
          "Bien Nacido Vineyard|Sonoma-Cutrer Vineyard|Rosella's Vineyard|Martha's Vineyard|Clone 777|"
          "Signature|Heritage|Three Sisters|Block 5|Winemaker's Selection|Gap's Crown Vineyard",
    "France": "Grand Cru|Premier Cru|Vieilles Vignes|Cuvée Prestige|Brut|Brut Rosé|Les Natures|Les Pierres|"
              "Clos du Château|Réserve|Cuvée Frédéric Émile|Blanc de Blancs|Extra Brut|La Brûlade|Tradition|"
              "Le Petit|Les Charmes|Clos Saint-Jacques|Cuvée Spéciale|Terroir de Lune",
    "Italy": "Riserva|Classico|Superiore|Vigna del Sorbo|Rosso|Bianco|Vulkà Bianco|Belsito|Cannubi|Brut|Extra Dry|"
             "Vigneto Bucerchiale|Sorì Tildìn|Montevetrano|Ornellaia|Tignanello|Cerretta|Ripasso",
    "Spain": "Crianza|Reserva|Gran Reserva|Roble|Finca Valdelayegua|Viñas Viejas|Selección Especial|"
             "Carodorum Selección Especial Reserva|Ars In Vitro|Brut Nature|Vendimia Seleccionada|Joven",
    "Portugal": "Reserva|Grande Reserva|Avidagos|Vintage|10 Year Old Tawny|Colheita|Bruto|Escolha|Branco|Tinto|"
                "Late Bottled Vintage|Quinta da Pedra Alta",
    "Germany": "Kabinett|Spätlese|Auslese|Trocken|Feinherb|Großes Gewächs|Shine|Devon|"
               "Graacher Himmelreich Spätlese|Wehlener Sonnenuhr Kabinett|Alte Reben",
    "Austria": "Smaragd|Federspiel|Ried Lamm|Ried Heiligenstein|Reserve|Alte Reben|Steinfeder|Kellerberg",
    "": "Reserve|Estate|Single Vineyard|Gran Reserva|Old Vines|Winemaker Selection|Felix|Reserva|Icon|"
        "Limited Edition|Cuvée|Selection|Signature Series|Barrel Fermented|Family Reserve|Grand Vin",
}


def _weighted(spec: str) -> tuple[list[str | None], list[float]]:
    names: list[str | None] = []
    cum: list[float] = []
    total = 0.0
    for part in spec.split(","):
        if not part:
            continue
        name, _, w = part.rpartition(":")
        total += float(w)
        names.append(name or None)
        cum.append(total)
    return names, cum


def _weighted_varieties(spec: str) -> tuple[list[str | None], list[float]]:
    # "Corvina, Rondinella, Molinara" has commas of its own; the weight is always after the last colon of a part.
    names: list[str | None] = []
    cum: list[float] = []
    total = 0.0
    for part in spec.replace(", ", "\x00").split(","):
        name, _, w = part.rpartition(":")
        total += float(w)
        names.append(name.replace("\x00", ", "))
        cum.append(total)
    return names, cum


class _Geo:
    """The geography tables, pre-parsed for fast weighted picks."""

    def __init__(self) -> None:
        self.countries = list(_GEO)
        self.country_cum = list(_cum(v[0] for v in _GEO.values()))
        self.info: dict[str, Any] = {}
        for country, (_, r1_null, tasters, provinces) in _GEO.items():
            provs = []
            for name, weight, regions, varieties in provinces:
                regs = [tuple(r.split(">")) if ">" in r else (r, None) for r in regions.split("|") if r]
                t_spec = _US_TASTERS.get(name, "") if country == "US" else tasters
                provs.append((name, regs, _weighted_varieties(varieties), _weighted(t_spec)))
            fixed, suffixes, roots = _WINERIES[country]
            self.info[country] = {
                "r1_null": r1_null,
                "provinces": provs,
                "prov_cum": list(_cum(p[1] for p in provinces)),
                "wineries": _words(fixed), "suffixes": _words(suffixes), "roots": _words(roots),
                "patterns": tuple(_words(x) for x in _WINERY_PATTERNS.get(country, ("", ""))),
                "designations": _words(_DESIGNATIONS.get(country, _DESIGNATIONS[""])),
            }


def _cum(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


_G = _Geo()
_VINTAGES = list(range(1990, 2018))
_VINTAGE_CUM = list(_cum(max(0.2, 12 - abs(y - 2012) * 1.3) for y in _VINTAGES))


# -- hashing -----------------------------------------------------------------------------------------------------
_M64 = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """splitmix64 over the parts: a cheap, well-spread, platform-independent hash of integers."""
    x = 0x243F6A8885A308D3
    for p in parts:
        x = (x ^ (p & _M64)) + 0x9E3779B97F4A7C15 & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
    return x


def _unit(*parts: int) -> float:
    return _mix(*parts) / 18446744073709551616.0


def _str_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# streams: distinct constants so that the hashes of different decisions are independent
_S_REVIEW, _S_ROLE, _S_TARGET, _S_NEAR, _S_SHARE, _S_SLOT, _S_REVISE, _S_P150 = range(1, 9)


# -- reviews -----------------------------------------------------------------------------------------------------
class _Reviews:
    """Reviews as pure functions of their number (see the module docstring)."""

    def __init__(self, seed: int, batch_date: _dt.date) -> None:
        self.seed = _str_seed(f"content|{seed}")
        self.revise = _str_seed(f"revise|{seed}|{batch_date.isoformat()}")
        self.perm_b = self.seed % _DESC_SPACE
        self.max_vintage = min(batch_date.year, _VINTAGES[-1])
        self.rng = random.Random()

    def get(self, number: int) -> dict[str, Any]:
        """The review ``number`` as a dict of the 130k columns (price a float or None, points an int)."""
        rng = self.rng
        rng.seed(_mix(self.seed, _S_REVIEW, number))
        r = rng.random
        country = _G.countries[bisect.bisect(_G.country_cum, r() * _G.country_cum[-1])]
        info = _G.info[country]
        province, regions, (vnames, vcum), (tnames, tcum) = info["provinces"][
            bisect.bisect(info["prov_cum"], r() * info["prov_cum"][-1])]
        variety = vnames[bisect.bisect(vcum, r() * vcum[-1])]
        region_1, region_2 = rng.choice(regions) if regions else (None, None)
        if r() < info["r1_null"]:
            region_1 = region_2 = None
        elif country == "US" and r() < 0.045:  # the public file's US rows without region_2
            region_2 = None
        taster = tnames[bisect.bisect(tcum, r() * tcum[-1])] if tnames else None
        handle = _TASTERS.get(taster) if taster else None
        # winery
        u = r()
        if info["roots"] and u < 0.55:
            winery = rng.choice(info["roots"])
            if info["suffixes"]:
                winery = f"{winery} {rng.choice(info['suffixes'])}"
        elif info["patterns"][0] and u < 0.6:
            winery = f"{rng.choice(info['patterns'][0])} {rng.choice(info['patterns'][1])}"
        else:
            winery = rng.choice(info["wineries"])
        designation = None if r() < 0.288 else rng.choice(info["designations"])
        if designation and r() < 0.004:
            designation += " "
        # points ~ N(88.45, 3.04) in 80..100; price log-normal (median 25, mean ~35), correlated with points
        z = rng.gauss(0.0, 1.0)
        points = min(100, max(80, round(88.45 + 3.04 * z)))
        if r() < 0.069:
            price = None
        elif r() < 0.0004:
            price = float(rng.choice((450, 500, 600, 775, 800, 1000, 1200, 1500, 2000, 2500, 3300)))
        else:
            price = float(min(3300, max(4, round(25.0 * math.exp(0.8 * (0.55 * z + 0.835 * rng.gauss(0, 1)))))))
        if _unit(self.revise, _S_REVISE, number) < 0.02:  # this batch re-rates a few reviews
            points = min(100, max(80, points + (1 if z < 0 else -1)))
            price = None if price is None else float(max(4, round(price * 1.1)))
        # title: "Winery YEAR Designation Variety (Region)"; blends often leave the variety out (double space)
        sparkling = variety in _SPARKLING
        if (sparkling and r() < 0.7) or r() < 0.015:
            year = "NV"
        else:
            vint = _VINTAGES[bisect.bisect(_VINTAGE_CUM, r() * _VINTAGE_CUM[-1])]
            year = str(min(vint, self.max_vintage)) if self.max_vintage >= _VINTAGES[0] else "NV"
        tvar = variety
        if variety in _BLEND_TITLE:
            tvar = _BLEND_TITLE[variety] if r() < 0.5 else ""
        elif variety == "Gewürztraminer" and r() < 0.4:
            tvar = "Gewurztraminer"
        elif designation and r() < 0.02:
            tvar = ""
        head = " ".join(p for p in (winery, year, designation and designation.strip()) if p)
        place = region_1 or province
        title = f"{head} {tvar} ({place})"
        if r() < 0.0005:
            country = province = region_1 = region_2 = None
        return {
            "country": country, "description": self._description(number, rng, variety, country),
            "designation": designation, "points": points, "price": price, "province": province,
            "region_1": region_1, "region_2": region_2, "taster_name": taster, "taster_twitter_handle": handle,
            "title": title, "variety": variety, "winery": winery + (" " if r() < 0.002 else ""),
        }

    def _description(self, number: int, rng: random.Random, variety: str, country: str | None) -> str:
        # The permuted number's mixed-radix digits pick five words at fixed places: unique descriptions.
        code = (number * _PERM_A + self.perm_b) % _DESC_SPACE
        digits = []
        for radix in _RADICES:
            code, d = divmod(code, radix)
            digits.append(d)
        white = variety in _WHITE
        fruit = _FRUIT_WHITE if white else _FRUIT_RED
        f1, f2, n, adj, tex = (fruit[digits[0]], fruit[digits[1]], _NOTES[digits[2]], _ADJ[digits[3]],
                               _TEXTURE[digits[4]])
        kind = rng.choice(("white", "wine", "bottling")) if white else rng.choice(("red", "wine", "bottling"))
        c = rng.choice
        s1 = c(_S1).format(A=adj.capitalize(), a=adj, f1=f1, f2=f2, n=n, lead=c(_LEAD), kind=kind, src=c(_SRC))
        t2 = c(_TEXTURE)
        if t2 == tex:
            t2 = _TEXTURE[(_TEXTURE.index(tex) + 1) % len(_TEXTURE)]
        s2 = c(_S2).format(t=tex, t2=t2, T=tex.capitalize(), g=c(fruit), m=c(_NOTES), m2=c(_NOTES),
                           that=c(_THAT), tannin=c(_TANNIN), acid=c(_ACID), extra=c(_EXTRA))
        parts = [s1, s2]
        r = rng.random
        if r() < 0.75:
            parts.append(c(_S3).format(Acid=c(_ACID).capitalize(), tannin=c(_TANNIN), shape=c(_SHAPE), fin=c(_FIN),
                                       fin2=c(_FIN), m=c(_NOTES), m2=c(_NOTES), g=c(fruit), flaw=c(_FLAW),
                                       months=c((10, 12, 14, 16, 18, 20, 22, 28)), pct=c((15, 20, 30, 40, 50, 100)),
                                       v1=c(_BLENDV), v2=c(_BLENDV), food=c(_FOOD)))
        if r() < 0.5:
            y = 2017 + rng.randrange(0, 12)
            parts.append(c(_S4).format(y=y, y2=y + rng.randrange(3, 9), nick=c(_NICK), price_word=c(_PRICE_WORD)))
        text = " ".join(parts)
        u = r()
        if u < 0.001:  # a line break inside the text (quoted in the CSV)
            text = text.replace(". ", ".\n", 1)
        elif u < 0.012:  # "It's  already drinkable": a double space inside
            text = text.replace(" ", "  ", 1) if r() < 0.3 else _replace_nth_space(text, rng, "  ")
        elif u < 0.016:
            text += " "
        return text


def _replace_nth_space(text: str, rng: random.Random, by: str) -> str:
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text + by
    i = rng.choice(spaces)
    return text[:i] + by + text[i + 1:]


# -- file layout -------------------------------------------------------------------------------------------------
class _Layout:
    """Which row of a file is dirty (and how), an exact or white-space duplicate, or fresh.

    Every decision is a pure function of the row number so that any row's role can be asked for at any time.
    Dirty rows: ``n`` slots split the rows into strata; slot ``j`` puts one dirty row at a seeded place in its
    stratum, and a seeded affine permutation of the slot numbers hands out the kinds in exact numbers.
    """

    def __init__(self, key: int, records: int, kinds: list[tuple[str, str, float, tuple[Any, ...]]],
                 p_exact: float, p_near: float, window: int) -> None:
        self.key, self.records = key, records
        self.kinds = kinds
        full = records >= 1000
        self.counts = [max(len(v) if full else 1, round(rate * records)) for _, _, rate, v in kinds]
        self.slots = sum(self.counts)
        if self.slots > records:
            raise ValueError(f"{records} records cannot hold {self.slots} dirty ones")
        self.kind_cum = list(itertools.accumulate(self.counts))
        a = 1 + 2 * (key % 1000003)
        while self.slots and math.gcd(a, self.slots) != 1:
            a += 1
        self.perm_a, self.perm_b = a, (key >> 20) % max(1, self.slots)
        self.p_exact, self.p_near, self.window = p_exact, p_near, window

    def _slot_span(self, j: int) -> tuple[int, int]:
        return j * self.records // self.slots, (j + 1) * self.records // self.slots

    def _slot_pos(self, j: int) -> int:
        lo, hi = self._slot_span(j)
        return lo + int(_unit(self.key, _S_SLOT, j) * (hi - lo))

    def dirty(self, i: int) -> tuple[str, str, Any] | None:
        """(kind, reason, variant) when row ``i`` is a dirty row."""
        if not self.slots:
            return None
        j = i * self.slots // self.records
        while j > 0 and self._slot_span(j)[0] > i:
            j -= 1
        while self._slot_span(j)[1] <= i:
            j += 1
        if self._slot_pos(j) != i:
            return None
        p = (self.perm_a * j + self.perm_b) % self.slots
        k = bisect.bisect(self.kind_cum, p)
        start = self.kind_cum[k - 1] if k else 0
        name, reason, _, variants = self.kinds[k]
        return name, reason, variants[(p - start) % len(variants)]

    def origin(self, i: int) -> tuple[int, str]:
        """(row whose review row ``i`` holds, "fresh" | "exact" | "near")."""
        u = _unit(self.key, _S_ROLE, i)
        if u >= self.p_exact + self.p_near or i == 0:
            return i, "fresh"
        how = "exact" if u < self.p_exact else "near"
        t = i - 1 - int(_unit(self.key, _S_TARGET, i) * min(i, self.window))
        while t >= 0:
            if self.dirty(t) is not None:
                t -= 1
                continue
            return self.origin(t)[0], how
        return i, "fresh"


# -- output ------------------------------------------------------------------------------------------------------
class _Sink:
    """A file written as ``NAME.tmp`` and renamed into place, hashing and counting its bytes on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.f = open(self.tmp, "wb")
        self.sha = hashlib.sha256()
        self.size = 0
        self.buf: list[str] = []

    def write(self, text: str) -> None:
        self.buf.append(text)
        if len(self.buf) >= 4096:
            self.flush()

    def write_bytes(self, data: bytes) -> None:
        self.flush()
        self._out(data)

    def flush(self) -> None:
        if self.buf:
            self._out("".join(self.buf).encode("utf-8"))
            self.buf = []

    def _out(self, data: bytes) -> None:
        self.f.write(data)
        self.sha.update(data)
        self.size += len(data)

    def close(self) -> None:
        self.flush()
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()

    def commit(self) -> None:
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self.f.closed:
            self.f.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def _long_value(field: str, rng: random.Random) -> str:
    target = {"designation": 300, "country": 70, "winery": 260, "region_1": 140}[field]
    words = ["Reserve", "Old", "Vine", "Estate", "Selection", "Special", "Cuvee", "Barrel", "Hillside", "Block"]
    text = "Republic of" if field == "country" else "Grand"
    while len(text) < target:
        text += " " + rng.choice(words)
    return text[:target].rstrip() + "x" * (target - len(text[:target].rstrip()))


def _format_price(price: Any, integral: bool) -> str:
    if price is None:
        return ""
    if isinstance(price, str):
        return price
    return str(int(price)) if integral and float(price).is_integer() else repr(float(price))


def _apply_dirty(rec: dict[str, Any], kind: str, variant: Any, rng: random.Random, integral_price: bool
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(CSV values, JSON values) of a dirty record; both start from the valid review ``rec``."""
    csv_rec = dict(rec)
    json_rec = dict(rec)
    if kind.startswith("missing_"):
        field = kind[len("missing_"):]
        csv_rec[field] = variant
        json_rec[field] = variant or None
    elif kind == "bad_points":
        csv_rec["points"] = variant
        json_rec["points"] = variant or None
    elif kind == "bad_price":
        csv_rec["price"] = variant
        if integral_price and variant.endswith(".0"):
            csv_rec["price"] = variant[:-2]
        try:
            num = float(variant)
            json_rec["price"] = int(num) if variant == "0" else num
        except ValueError:
            json_rec["price"] = variant
    elif kind == "field_too_long":
        csv_rec[variant] = json_rec[variant] = _long_value(variant, rng)
    return csv_rec, json_rec


class _CsvRows:
    """Renders records of one CSV file: index column first, QUOTE_MINIMAL like pandas.to_csv."""

    def __init__(self, sink: _Sink, columns: list[str], eol: str, integral_price: bool) -> None:
        self.sink, self.columns, self.eol, self.integral = sink, columns, eol, integral_price
        self.writer = csv.writer(sink, lineterminator=eol)
        self.scratch = io.StringIO()
        self.scratch_writer = csv.writer(self.scratch, lineterminator=eol)
        self.writer.writerow([""] + columns)

    def values(self, i: int, rec: dict[str, Any]) -> list[Any]:
        out: list[Any] = [i]
        for c in self.columns:
            v = rec[c]
            out.append(_format_price(v, self.integral) if c == "price" else v)
        return out

    def write(self, i: int, rec: dict[str, Any]) -> None:
        self.writer.writerow(self.values(i, rec))

    def text(self, fields: list[Any]) -> str:
        self.scratch.seek(0)
        self.scratch.truncate()
        self.scratch_writer.writerow(fields)
        return self.scratch.getvalue()

    def write_malformed(self, i: int, rec: dict[str, Any], kind: str, variant: str) -> None:
        fields = self.values(i, rec)
        if kind == "malformed_field_count":
            d = self.columns.index("designation") + 1
            if variant == "extra_field":  # "Reserve, Old Vines" saved without quotes
                fields[d:d + 1] = [fields[d] or "Reserve", "Old Vines"]
            else:
                del fields[self.columns.index("region_2") + 1]
            self.sink.write(self.text(fields))
        elif kind == "malformed_wrapped":
            line = self.text(fields)[: -len(self.eol)]
            self.sink.write('"' + line.replace('"', '""') + '"' + self.eol)
        elif kind == "malformed_invalid_utf8":
            data = self.text(fields).encode("cp1252", errors="replace")
            if _is_utf8(data):  # nothing left that cp1252 spells differently: give the winery an accent
                fields[-1] = f"Château {fields[-1]}"
                data = self.text(fields).encode("cp1252", errors="replace")
            assert not _is_utf8(data)
            self.sink.write_bytes(data)
        else:  # pragma: no cover
            raise ValueError(kind)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_text(rec: dict[str, Any]) -> str:
    obj = {k: rec[k] for k in JSON_KEYS}
    p = obj["points"]
    obj["points"] = str(p) if isinstance(p, int) else p
    return json.dumps(obj, ensure_ascii=False)


def _empty_counts() -> dict[str, Any]:
    return {"records": 0, "rejected": {r: 0 for r in REASONS}, "injected": {}, "kept": 0, "duplicates": 0}


def _count_dirty(counts: dict[str, Any], kind: str, reason: str, variant: Any) -> None:
    counts["rejected"][reason] += 1
    key = f"{kind}={variant!r}"
    counts["injected"][key] = counts["injected"].get(key, 0) + 1


# -- generation --------------------------------------------------------------------------------------------------
def _records(scale: float, name: str) -> int:
    return max(MIN_RECORDS, round(REAL_RECORDS[name] * scale))


def _near_variant(rec: dict[str, Any], h: int) -> dict[str, Any]:
    """A copy that differs only in white space that the contract's key normalisation merges."""
    out = dict(rec)
    how = h % 5
    desc = out["description"]
    if how == 0:
        i = desc.find(" ", (h >> 8) % max(1, len(desc)))
        out["description"] = desc[:i] + "  " + desc[i + 1:] if i > 0 else desc + "  "
    elif how == 1:
        i = desc.find(" ", (h >> 8) % max(1, len(desc)))
        out["description"] = desc[:i] + NBSP + desc[i + 1:] if i > 0 else desc + NBSP
    elif how == 2:
        out["winery"] = out["winery"] + "  "
    elif how == 3:
        out["description"] = desc.rstrip() + " "  + NBSP
    else:
        out["variety"] = " " + out["variety"]
        out["description"] = desc.replace(". ", ".  ", 1)
    return out


def generate(out_dir: str | os.PathLike[str], batch_date: _dt.date | str, scale: float = 1.0, seed: int = 42,
             *, dirty: bool = True, manifest_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write the three source files of one batch into ``out_dir`` and return their manifest.

    Deterministic: the same ``(batch_date, scale, seed, dirty)`` gives the same bytes. ``dirty=False`` leaves
    out the dirty records (then every record is valid; used to compare types with the real files).
    If ``manifest_path`` names a manifest of the same parameters whose files are all present with their
    recorded sizes, nothing is written and that manifest is returned.

    The manifest holds the parameters, ``precedence`` (the source names, highest first) and per file:
    ``source_name``, ``records``, ``bytes``, ``sha256``, ``rejected`` (count per contract reason, exact),
    ``injected`` (count per dirty kind and variant), ``kept`` and ``duplicates`` (exact under the contract's
    precedence 130k CSV > 130k JSON > 150k CSV); ``expected_curated`` is the sum of ``kept``.
    """
    if isinstance(batch_date, str):
        batch_date = _dt.date.fromisoformat(batch_date)
    if not 0 < scale <= 100:
        raise ValueError("scale must be in (0, 100]")
    out = Path(out_dir)
    params = {"batch_date": batch_date.isoformat(), "scale": float(scale), "seed": int(seed), "dirty": dirty}
    if manifest_path is not None:
        previous = _reusable(Path(manifest_path), out, params)
        if previous is not None:
            log.info("%s already holds the batch of %s (scale %s, seed %s): skipped", out, params["batch_date"],
                     scale, seed)
            return previous
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    reviews = _Reviews(seed, batch_date)
    layout_key = _str_seed(f"layout|{seed}|{batch_date.isoformat()}|{float(scale)!r}")
    n130, n150 = _records(scale, FILE_130K_CSV), _records(scale, FILE_150K_CSV)
    # ~7.7% exact duplicates in the 130k file like the public one (9,983); the public first150k has ~30%.
    lay130 = _Layout(_mix(layout_key, 130), n130, _DIRTY_130K if dirty else [], 0.0768, 0.01, 5000)
    lay150 = _Layout(_mix(layout_key, 150), n150, _DIRTY_150K if dirty else [], 0.30, 0.01, 5000)
    sinks: list[_Sink] = []
    try:
        files = {}
        s_csv, s_json = _Sink(out / FILE_130K_CSV), _Sink(out / FILE_130K_JSON)
        sinks += [s_csv, s_json]
        files[FILE_130K_CSV], files[FILE_130K_JSON] = _write_130k(reviews, lay130, s_csv, s_json, layout_key)
        s150 = _Sink(out / FILE_150K_CSV)
        sinks.append(s150)
        files[FILE_150K_CSV] = _write_150k(reviews, lay150, lay130, s150, layout_key)
        for s in sinks:
            s.close()
        # The 150k file goes last: its presence means the batch is complete (the Makefile relies on it).
        for s in sinks:
            s.commit()
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    for s in sinks:
        c = files[s.path.name]
        c["injected"] = dict(sorted(c["injected"].items()))
        c["bytes"], c["sha256"] = s.size, s.sha.hexdigest()
        log.info("wrote %s: %d records (%d dirty), %.1f MB", s.path, c["records"],
                 sum(c["rejected"].values()), s.size / 1e6)
    manifest = {
        "generator": "tasks.sample", "format": 1, **params,
        "precedence": [SOURCE_NAMES[f] for f in (FILE_130K_CSV, FILE_130K_JSON, FILE_150K_CSV)],
        "files": {name: {"source_name": SOURCE_NAMES[name], **files[name]} for name in
                  (FILE_130K_CSV, FILE_130K_JSON, FILE_150K_CSV)},
        "expected_curated": sum(files[n]["kept"] for n in files),
    }
    log.info("batch %s written to %s in %.1f s", params["batch_date"], out, time.monotonic() - started)
    if manifest_path is not None:
        write_manifest(manifest, manifest_path)
    return manifest


def write_manifest(manifest: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``manifest`` as JSON, atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def _reusable(manifest_path: Path, out: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if any(previous.get(k) != v for k, v in params.items()):
        return None
    for name, info in previous.get("files", {}).items():
        f = out / name
        if not f.is_file() or f.stat().st_size != info.get("bytes"):
            return None
    return previous if len(previous.get("files", {})) == 3 else None


def _write_130k(reviews: _Reviews, lay: _Layout, s_csv: _Sink, s_json: _Sink, layout_key: int
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = _CsvRows(s_csv, COLUMNS_130K, "\n", integral_price=False)
    c_csv, c_json = _empty_counts(), _empty_counts()
    rng = random.Random(_mix(layout_key, 1300))
    s_json.write("[")
    for i in range(lay.records):
        if i:
            s_json.write(", ")
        d = lay.dirty(i)
        if d is not None:
            kind, reason, variant = d
            rec = reviews.get(i)
            if kind in _CSV_ONLY:
                rows.write_malformed(i, rec, kind, variant)
                _count_dirty(c_csv, kind, reason, variant)
                s_json.write(_json_text(rec))
                c_json["kept"] += 1  # the JSON's valid twin of a record only the CSV lost
            elif kind == "malformed_not_an_object":
                rows.write(i, rec)
                c_csv["kept"] += 1
                _count_dirty(c_json, kind, reason, variant)
                s_json.write(json.dumps(_not_an_object(rows, i, rec, variant), ensure_ascii=False))
            else:
                csv_rec, json_rec = _apply_dirty(rec, kind, variant, rng, integral_price=False)
                rows.write(i, csv_rec)
                s_json.write(_json_text(json_rec))
                _count_dirty(c_csv, kind, reason, variant)
                _count_dirty(c_json, kind, reason, variant)
            continue
        src, how = lay.origin(i)
        rec = reviews.get(src)
        if how == "near":
            rec = _near_variant(rec, _mix(layout_key, _S_NEAR, i))
        rows.write(i, rec)
        s_json.write(_json_text(rec))
        if how == "fresh":
            c_csv["kept"] += 1
        else:
            c_csv["duplicates"] += 1
        c_json["duplicates"] += 1  # its key is kept from the CSV, which has precedence
    s_json.write("]")
    c_csv["records"] = c_json["records"] = lay.records
    return c_csv, c_json


def _not_an_object(rows: _CsvRows, i: int, rec: dict[str, Any], variant: str) -> Any:
    if variant == "string":
        return rows.text(rows.values(i, rec)).rstrip("\n")
    if variant == "number":
        return rec["points"]
    if variant == "array":
        return [rec[k] if k != "points" else str(rec[k]) for k in JSON_KEYS]
    return None


def _write_150k(reviews: _Reviews, lay: _Layout, lay130: _Layout, sink: _Sink, layout_key: int
                ) -> dict[str, Any]:
    rows = _CsvRows(sink, COLUMNS_150K, "\r\n", integral_price=True)
    counts = _empty_counts()
    rng = random.Random(_mix(layout_key, 1500))

    def review_of(row: int) -> tuple[dict[str, Any], bool]:
        # (review, shared with the 130k file) of a fresh 150k row
        if _unit(layout_key, _S_SHARE, row) < 0.85:
            t = int(_unit(layout_key, _S_SHARE + 100, row) * lay130.records)
            while t >= 0 and lay130.dirty(t) is not None:
                t -= 1
            if t >= 0:
                src, _ = lay130.origin(t)
                rec = reviews.get(src)
                # the public first150k has more NULL prices than the 130k file
                if rec["price"] is not None and _unit(reviews.seed, _S_P150, src) < 0.024:
                    rec["price"] = None
                return rec, True
        return reviews.get(OWN_REVIEWS_BASE + row), False

    for i in range(lay.records):
        d = lay.dirty(i)
        if d is not None:
            kind, reason, variant = d
            rec = reviews.get(OWN_REVIEWS_BASE + i)
            if kind in _CSV_ONLY:
                rows.write_malformed(i, rec, kind, variant)
            else:
                rows.write(i, _apply_dirty(rec, kind, variant, rng, integral_price=True)[0])
            _count_dirty(counts, kind, reason, variant)
            continue
        src, how = lay.origin(i)
        rec, shared = review_of(src)
        if how == "near":
            rec = _near_variant(rec, _mix(layout_key, _S_NEAR + 100, i))
        rows.write(i, rec)
        if how == "fresh" and not shared:
            counts["kept"] += 1
        else:
            counts["duplicates"] += 1
    counts["records"] = lay.records
    return counts


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m tasks.sample --date D --scale S --out DIR [--seed N] [--manifest P]``."""
    ap = argparse.ArgumentParser(prog="python -m tasks.sample", description=__doc__.split("\n")[0])
    ap.add_argument("--date", required=True, type=_dt.date.fromisoformat, help="batch date, YYYY-MM-DD")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0: the public files' record counts")
    ap.add_argument("--out", required=True, help="directory to write the three files into")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--manifest", help="write the manifest here as JSON (and skip if it is current)")
    ap.add_argument("--clean", action="store_true", help="no dirty records")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    generate(args.out, args.date, args.scale, args.seed, dirty=not args.clean, manifest_path=args.manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
