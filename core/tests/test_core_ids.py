"""core/ids.py: public ids are a prefix and 16 base62 characters, each position uniform."""

from collections import Counter

from core.ids import _ALPHABET, ID_LENGTH, new_id


def test_shape_and_alphabet():
    value = new_id("ord")
    prefix, body = value.split("_")
    assert prefix == "ord" and len(body) == ID_LENGTH and set(body) <= set(_ALPHABET)


def test_every_position_draws_from_the_whole_alphabet():
    ids = [new_id("x")[2:] for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    for position in range(ID_LENGTH):
        counts = Counter(i[position] for i in ids)
        # 4000 draws over 62 symbols: about 65 each; a stuck or skewed position shows at once.
        assert len(counts) == 62, position
        assert max(counts.values()) < 130 and min(counts.values()) > 20, (position, counts.most_common(2))
