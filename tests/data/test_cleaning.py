"""Tests of tfllm.data.cleaning, each case eagerly and inside tf.data."""

import pytest
import tensorflow as tf

from tfllm.data import cleaning
from tfllm.errors import ConfigError

_NONE = dict(unicode_normalization="", collapse_whitespace=False)

CASES = [
    # (options, input, expected)
    (
        dict(strip_html=True, lowercase=True),
        "<p>Caf\u00e9&amp;  Bar</p>\n",
        "caf\u00e9& bar",
    ),
    (
        dict(strip_html=True, **_NONE),
        'a<br/>b &lt;i&gt; &quot;q&quot; &#39;s&#39; &amp;lt;',
        'a b <i> "q" \'s\' &lt;',
    ),
    (
        dict(strip_html=True),
        "x<script type='t'>if (a < b) {}</script>y<STYLE>p{}</STYLE>z<!-- c > d -->w",
        "x y z w",
    ),
    (dict(strip_html=True), "a&nbsp;b", "a b"),
    (dict(unicode_normalization="NFKC", collapse_whitespace=False), "\ufb01ne", "fine"),
    (dict(unicode_normalization="NFC", collapse_whitespace=False), "e\u0301", "\u00e9"),
    (dict(unicode_normalization="NFD", collapse_whitespace=False), "\u00e9", "e\u0301"),
    (dict(unicode_normalization="", collapse_whitespace=False), "\ufb01 ", "\ufb01 "),
    (
        dict(unicode_normalization=""),
        " a\t\tb\r\n c\u00a0\u00a0d\u2003e\u3000 ",
        "a b c d e",
    ),
    (dict(lowercase=True), "\u00c9COLE \u03a3", "\u00e9cole \u03c3"),
]


@pytest.mark.parametrize("options, text, expected", CASES)
def test_clean_text_eager_batch(options, text, expected):
    batch = tf.constant([text, text])
    got = cleaning.clean_text(batch, **options).numpy()
    assert [value.decode("utf-8") for value in got] == [expected, expected]


@pytest.mark.parametrize("options, text, expected", CASES)
def test_clean_text_in_dataset_map(options, text, expected):
    dataset = tf.data.Dataset.from_tensor_slices([text, text])
    got = list(dataset.map(cleaning.clean_fn(options)).as_numpy_iterator())
    assert [value.decode("utf-8") for value in got] == [expected, expected]


def test_clean_text_keeps_scalar_and_2d_shapes():
    assert cleaning.clean_text(tf.constant(" A ")).shape == ()
    got = cleaning.clean_text(tf.constant([[" A", "B "]]), lowercase=True)
    assert got.numpy().tolist() == [[b"a", b"b"]]


def test_bad_normalization_names_the_flag():
    with pytest.raises(ConfigError) as info:
        cleaning.clean_text(tf.constant("a"), unicode_normalization="nfkc")
    assert str(info.value).startswith("--config.data.cleaning.unicode_normalization:")
    assert "'NFKC'" in str(info.value)


def test_clean_fn_rejects_unknown_options():
    with pytest.raises(ConfigError, match="data.cleaning.lower_case: unknown option"):
        cleaning.clean_fn({"lower_case": True})
