"""Which style does a text sound like? TF-IDF character n-grams + logistic regression (scikit-learn).

It is trained on held-out style text (never on any model's output) plus a 'neutral' class of plain chat
replies, so generic text need not be forced into some style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline

NEUTRAL = "neutral"


def train_classifier(texts_by_label: Mapping[str, Sequence[str]], seed: int = 0) -> Pipeline:
    """Fit the classifier on {label: texts}; each label needs at least two texts."""
    if thin := [label for label, texts in texts_by_label.items() if len(texts) < 2]:
        raise ValueError(f"classifier labels need >= 2 texts each; too few for: {', '.join(thin)}")
    texts = [t for label in texts_by_label for t in texts_by_label[label]]
    labels = [label for label in texts_by_label for _ in texts_by_label[label]]
    return _pipeline(seed).fit(texts, labels)


def cross_validated_accuracy(texts_by_label: Mapping[str, Sequence[str]], seed: int = 0, folds: int = 5) -> float:
    """Mean k-fold accuracy (k at most the smallest class) of the same pipeline on its training text."""
    texts = [t for label in texts_by_label for t in texts_by_label[label]]
    labels = [label for label in texts_by_label for _ in texts_by_label[label]]
    folds = min(folds, min(len(t) for t in texts_by_label.values()))
    return float(cross_val_score(_pipeline(seed), texts, labels, cv=folds).mean())


def _pipeline(seed: int) -> Pipeline:
    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )
