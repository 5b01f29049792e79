"""In-graph text cleaning, shared by tf.data pipelines and exported models.

Pure TensorFlow / tensorflow_text ops on string tensors of any shape (no
py_function), so the exact same cleaning runs while training and inside a
SavedModel served without Python. Regexes are RE2: no lookbehind and no
backreferences, hence one alternative per element name below.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.errors import ConfigError

NORMALIZATIONS = ("", "NFC", "NFKC", "NFD", "NFKD")
DEFAULTS = {
    "strip_html": False,
    "unicode_normalization": "NFKC",
    "collapse_whitespace": True,
    "lowercase": False,
}

# Elements whose contents are not text, and comments (which may contain ">").
_HIDDEN_HTML = (
    r"(?is)<script\b[^>]*>.*?</script\s*>"
    r"|<style\b[^>]*>.*?</style\s*>"
    r"|<!--.*?-->"
)
_HTML_TAG = r"<[^>]*>"
# &amp; comes last so "&amp;lt;" becomes "&lt;", not "<".
_HTML_ENTITIES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&#39;", "'"),
    ("&apos;", "'"),
    ("&nbsp;", "\u00a0"),
    ("&amp;", "&"),
)
# RE2's \s is ASCII only: add vertical tab, NEL and the Unicode separators
# (\p{Z}: no-break space U+00A0, U+2000-U+200A, U+2028, U+3000, ...).
_WHITESPACE = r"[\s\x{0b}\x{85}\p{Z}]+"


def clean_text(
    text,
    *,
    strip_html=False,
    unicode_normalization="NFKC",
    collapse_whitespace=True,
    lowercase=False,
):
    """Returns `text` cleaned, with the same shape.

    Steps run in this order: HTML, Unicode normalization, lower-casing,
    whitespace (last, since the others can create or expose whitespace).

    Args:
        text: a string tensor (scalar or any shape) of UTF-8 text.
        strip_html: drop tags (each replaced by a space so words don't merge),
            comments and <script>/<style> contents; decode common entities.
        unicode_normalization: "", "NFC", "NFKC", "NFD" or "NFKD"
            ("" leaves the text as is).
        collapse_whitespace: turn each run of whitespace (Unicode included)
            into one space and strip both ends.
        lowercase: Unicode-aware lower-casing.

    Raises:
        ConfigError: `unicode_normalization` is not one of NORMALIZATIONS.
    """
    _check_normalization(unicode_normalization)
    text = tf.convert_to_tensor(text, dtype=tf.string)
    if strip_html:
        text = tf.strings.regex_replace(text, _HIDDEN_HTML, " ")
        text = tf.strings.regex_replace(text, _HTML_TAG, " ")
        for entity, character in _HTML_ENTITIES:
            text = tf.strings.regex_replace(text, entity, character)
    if unicode_normalization:
        text = tf_text.normalize_utf8(text, unicode_normalization)
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    if collapse_whitespace:
        text = tf.strings.strip(tf.strings.regex_replace(text, _WHITESPACE, " "))
    return text


def clean_fn(options):
    """Returns `text -> clean_text(text, **options)` for `dataset.map`.

    Args:
        options: a mapping (or ConfigDict, e.g. `config.data.cleaning`) with
            any of the keys of DEFAULTS; missing keys take the defaults.

    Raises:
        ConfigError: an unknown key or a bad normalization, before any work.
    """
    unknown = sorted(set(options.keys()) - set(DEFAULTS))
    if unknown:
        expected = f"unknown option; expected one of {sorted(DEFAULTS)}"
        raise ConfigError(f"data.cleaning.{unknown[0]}", expected)
    kwargs = {key: options.get(key, default) for key, default in DEFAULTS.items()}
    _check_normalization(kwargs["unicode_normalization"])
    return lambda text: clean_text(text, **kwargs)


def _check_normalization(form):
    if form not in NORMALIZATIONS:
        raise ConfigError(
            "data.cleaning.unicode_normalization",
            f"expected one of {list(NORMALIZATIONS)}, got {form!r}",
        )
