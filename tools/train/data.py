"""TinyStories text -> list of stories (one line each), with optional re-casing.

arnoochka_tinystories.txt (4.2 MB) is lower-cased: paragraphs are separated by a blank line and
stories by a single newline. We undo the lower-casing with a small heuristic so that prompts
like "Once upon a time" work: capitalise sentence starts and the first word of quoted speech,
and words (names, "I", "I'm") that the original-casing sample niklas6_tinystories.txt writes
capitalised in the middle of sentences.
"""
import collections
import re

MOJIBAKE = {"â€œ": '"', "â€\x9d": '"', "â€™": "'", "â€˜": "'", "â€“": "-", "â€”": "-",
            "â€¦": "...", "â€": '"'}
WORD = re.compile(r"[A-Za-z][A-Za-z']*")
# a letter at a sentence start: story start, after . ! ? (+ closing quote) and spaces,
# or right after an opening quote
SENT_START = re.compile(r'(^"?|[.!?]"?\s+"?|(?<=\s)")([a-z])')


def read_stories(path):
    text = open(path, encoding="utf-8").read()
    for bad, good in MOJIBAKE.items():
        text = text.replace(bad, good)
    stories, cur = [], []
    prev_blank = True
    for line in text.split("\n"):
        line = " ".join(line.split())
        if not line:
            prev_blank = True
            continue
        if not prev_blank and cur:          # a non-empty line right after another: new story
            stories.append(" ".join(cur))
            cur = []
        cur.append(line)
        prev_blank = False
    if cur:
        stories.append(" ".join(cur))
    # drop the few stories that still hold non-ASCII characters
    return [s for s in stories if s.isascii()]


def sentence_start_positions(s):
    return {m.start(2) for m in SENT_START.finditer(s.lower())}


def learn_case(cased_text, lower_text=""):
    """Words written capitalised (not at a sentence start) more often than not in cased_text,
    plus names that follow "named" in lower_text and are not seen lower-case in cased_text."""
    counts = collections.defaultdict(collections.Counter)
    for para in cased_text.split("\n"):
        starts = sentence_start_positions(para)
        for m in WORD.finditer(para):
            if m.start() not in starts:
                counts[m.group().lower()][m.group()] += 1
    case = {}
    for w, c in counts.items():
        form, n = c.most_common(1)[0]
        if form != w and n >= 2:
            case[w] = form
    named = collections.Counter(re.findall(r"\bnamed ([a-z]+)\b", lower_text))
    for w, n in named.items():
        if n >= 2 and w not in counts:
            case[w] = w.capitalize()
    return case


def recase_word(w, case):
    if w in case:
        return case[w]
    if w.endswith("'s") and w[:-2] in case:      # possessive: lily's -> Lily's
        return case[w[:-2]] + "'s"
    return w


def recase(s, case):
    s = WORD.sub(lambda m: recase_word(m.group(), case), s)
    return SENT_START.sub(lambda m: m.group(1) + m.group(2).upper(), s)


if __name__ == "__main__":   # check the heuristic on the original-casing sample
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: data.py CORPORA_DIR  (the folder train.py --corpora takes)")
    d = sys.argv[1].rstrip("/") + "/"
    cased = open(d + "niklas6_tinystories.txt", encoding="utf-8").read()
    lower = open(d + "arnoochka_tinystories.txt", encoding="utf-8").read()
    case = learn_case(cased, lower)
    print(len(case), "cased words, e.g.", sorted(case.values())[:40])
    paras = [" ".join(p.split()) for p in cased.split("\n") if p.strip()]
    half = len(paras) // 2          # learn on the first half, test on the second
    case2 = learn_case("\n".join(paras[:half]))
    ok = tot = 0
    for p in paras[half:]:
        r = recase(p.lower(), case2)
        a, b = WORD.findall(r), WORD.findall(p)
        ok += sum(x == y for x, y in zip(a, b)); tot += len(b)
    print(f"word case accuracy on held-out half: {ok / tot:.4f}")
    st = read_stories(d + "arnoochka_tinystories.txt")
    print(len(st), "stories;", recase(st[1], case)[:300])
