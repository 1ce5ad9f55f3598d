"""Domain words as Whisper hotwords: WER/CER off vs on, and what unrelated terms do.

For each shared file with a reference (en/, ko/, interviews/), the whole-recording transcription
(``transcribe_offline``: the final pass's VAD + utterance policy, beam 5, Whisper base) runs three times:
  off        no hotwords;
  on         the file's own domain terms: reference words that are capitalised mid-sentence (names) or at
             least 8 letters long (en), or at least 4 Hangul syllables (ko): an "oracle" list, the best a
             question set's keywords can do;
  distractor the terms of a *different* file (none of them spoken): measures insertions of unspoken terms
             and prompt copies (refused and re-decoded by the guard, counted in "refused").
Prints error rates per group and condition, how many term occurrences were recognised, and inserted
distractor terms. CPU seconds from getrusage.

    .venv/bin/python -m bench.hotwords [--files en/ interviews/]
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
from dataclasses import replace

from analysis.audio.preprocess import file_to_16k_mono
from analysis.stt import engine
from analysis.stt.hotwords import hotword_prompt
from bench.common import DEFAULT_SETS, ErrorCounts, error_counts, print_table, select_items, shared_data_dir
from bench.preprocess import server_stt_config


def terms_of(text: str, language: str) -> list[str]:
    if language == "ko":
        return [w for w in re.findall(r"[\uac00-\ud7a3]+", text) if len(w) >= 4][:12]
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", text)
    out = [w for i, w in enumerate(words) if (i and w[0].isupper() and w.upper() != w) or len(w) >= 8]
    return out[:12]


def count_terms(text: str, terms: list[str]) -> int:
    low = text.lower()
    return sum(low.count(t.lower()) for t in set(terms))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", nargs="+", default=[], help="substrings of file names (default: all)")
    args = parser.parse_args()
    items = [i for i in select_items(shared_data_dir(), DEFAULT_SETS, args.files) if i.text]
    config = replace(server_stt_config(), beam_size=5)  # the final pass: base, beam 5
    refused = {"on": 0, "distractor": 0}
    original = engine.transcribe_clip

    def counting(*a, **kw):  # noqa: ANN002, ANN003
        result = original(*a, **kw)
        if result.hotwords_refused:
            refused[condition] += 1
        return result

    engine.transcribe_clip = counting
    pooled: dict[tuple[str, str], ErrorCounts] = {}
    recognised = {"off": 0, "on": 0, "total": 0}
    inserted = {"off": 0, "distractor": 0}
    cpu_s = {"off": 0.0, "on": 0.0, "distractor": 0.0}
    rows = []
    for n, item in enumerate(items):
        same_language = [i for i in items if i.language == item.language and i is not item]
        other = same_language[n % len(same_language)] if same_language else item
        own, foreign = terms_of(item.text, item.language), terms_of(other.text, other.language)
        foreign = [t for t in foreign if t.lower() not in item.text.lower()]
        audio = file_to_16k_mono(str(item.path))
        group = item.set_name + ("/" + item.language if item.set_name == "interviews" else "")
        cells = [item.name, str(len(own))]
        texts = {}
        for condition, terms in (("off", []), ("on", own), ("distractor", foreign)):
            t0 = cpu()
            segments = engine.transcribe_offline(config, audio, language=item.language, hotwords=hotword_prompt(terms))
            cpu_s[condition] += cpu() - t0
            texts[condition] = " ".join(s.text for s in segments)
            counts = error_counts(item.text, texts[condition], item.language, ko_numbers=item.language == "ko")
            pooled[(group, condition)] = pooled.get((group, condition), ErrorCounts(0, 0)) + counts
            cells.append(f"{counts.rate:.3f}")
        recognised["total"] += count_terms(item.text, own)
        recognised["off"] += min(count_terms(texts["off"], own), count_terms(item.text, own))
        recognised["on"] += min(count_terms(texts["on"], own), count_terms(item.text, own))
        inserted["off"] += count_terms(texts["off"], foreign)
        inserted["distractor"] += count_terms(texts["distractor"], foreign)
        rows.append(cells)
        print("\t".join(cells), file=sys.stderr, flush=True)
    print("\nPer file (error rate: WER en, CER ko with numbers as Hangul)")
    print_table(["file", "terms", "off", "on (own terms)", "distractor terms"], rows)
    print("\nPooled")
    groups = sorted({g for g, _ in pooled})
    print_table(["group", "off %", "on %", "distractor %", "ref units"],
                [[g, *(f"{100 * pooled[(g, c)].rate:.1f}" for c in ("off", "on", "distractor")),
                  str(pooled[(g, "off")].ref_units)] for g in groups])
    print(f"\nterm occurrences recognised: off {recognised['off']}/{recognised['total']}, "
          f"on {recognised['on']}/{recognised['total']}")
    print(f"unspoken distractor terms in the output: off {inserted['off']}, with them as hotwords "
          f"{inserted['distractor']}; decodes refused as prompt copies: on {refused['on']}, distractor "
          f"{refused['distractor']}")
    print(f"CPU s: off {cpu_s['off']:.0f}, on {cpu_s['on']:.0f}, distractor {cpu_s['distractor']:.0f}")


if __name__ == "__main__":
    main()
