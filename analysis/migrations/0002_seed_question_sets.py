"""Seed the bundled Korean and English question sets (analysis/question_sets/*.json)."""

import json
from pathlib import Path

from django.db import migrations

SEEDS = Path(__file__).resolve().parent.parent / "question_sets"


def seed(apps, schema_editor):
    QuestionSet = apps.get_model("analysis", "QuestionSet")
    Question = apps.get_model("analysis", "Question")
    for path in sorted(SEEDS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        slug = f"common-{data['language']}"
        qs, created = QuestionSet.objects.get_or_create(
            slug=slug, defaults={"name": data["name"], "language": data["language"]}
        )
        if not created:
            continue
        for order, q in enumerate(data["questions"]):
            Question.objects.create(
                question_set=qs, order=order, text=q["text"], competency=q.get("competency", ""),
                expected_keywords=q.get("expected_keywords", []),
            )


def unseed(apps, schema_editor):
    apps.get_model("analysis", "QuestionSet").objects.filter(slug__in=["common-ko", "common-en"]).delete()


class Migration(migrations.Migration):
    dependencies = [("analysis", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
