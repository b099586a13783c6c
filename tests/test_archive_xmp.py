"""The provenance packet: the chosen IPTC term, the settings, and the input's own XMP kept around it."""

import xml.etree.ElementTree as ET

from colornet.archive.xmp import DIGITAL_SOURCE_TYPE, NS, Provenance, build_xmp

RDF = "{%s}" % NS["rdf"]
PROVENANCE = Provenance("ColorNet", "9.9", "ckpt", "a" * 64, {"vividness": 0.5, "strength": 1.0, "mask_sha256": None},
                        ("b" * 64, "c" * 64), "d" * 64, when="2026-01-02T03:04:05+00:00")
SCAN_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'xmlns:archive="http://example.org/archive/" archive:Box="17" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/negativeFilm">'
    b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour, 1950</rdf:li></rdf:Alt></dc:title>'
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _parse(packet: bytes) -> ET.Element:
    text = packet.decode("utf-8")
    assert text.startswith("<?xpacket begin=") and text.rstrip().endswith('<?xpacket end="w"?>')
    return ET.fromstring(text[text.index("<x:xmpmeta") : text.index("</x:xmpmeta>") + len("</x:xmpmeta>")])


def _values(root: ET.Element, prefix: str, name: str) -> list[str]:
    tag = "{%s}%s" % (NS[prefix], name)
    found = [el.text for el in root.iter(tag)]
    found += [d.get(tag) for d in root.iter(RDF + "Description") if d.get(tag) is not None]
    return found


def test_packet_says_what_made_it():
    root = _parse(build_xmp(PROVENANCE))
    assert _values(root, "Iptc4xmpExt", "DigitalSourceType") == [DIGITAL_SOURCE_TYPE]
    assert DIGITAL_SOURCE_TYPE == "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    assert _values(root, "colornet", "CheckpointSHA256") == ["a" * 64]
    assert _values(root, "colornet", "SourceSHA256") == ["d" * 64]
    assert _values(root, "colornet", "Vividness") == ["0.5"]
    assert _values(root, "colornet", "MaskSha256") == []  # unset settings are left out
    refs = [li.text for li in root.find(".//{%s}ReferenceSHA256" % NS["colornet"]).iter(RDF + "li")]
    assert refs == ["b" * 64, "c" * 64]
    assert _values(root, "stEvt", "softwareAgent") == ["ColorNet 9.9"]
    assert _values(root, "stEvt", "when") == ["2026-01-02T03:04:05+00:00"]


def test_input_packet_is_kept_and_its_source_type_recorded():
    root = _parse(build_xmp(PROVENANCE, SCAN_XMP))
    assert [li.text for li in root.iter(RDF + "li") if li.text == "Harbour, 1950"]
    assert _values(root, "Iptc4xmpExt", "DigitalSourceType") == [DIGITAL_SOURCE_TYPE]  # one value, ours
    assert _values(root, "colornet", "SourceDigitalSourceType") == [
        "http://cv.iptc.org/newscodes/digitalsourcetype/negativeFilm"]
    assert any(d.get("{http://example.org/archive/}Box") == "17" for d in root.iter(RDF + "Description"))


def test_colorizing_twice_appends_history_and_keeps_one_term():
    once = build_xmp(PROVENANCE, SCAN_XMP)
    twice = _parse(build_xmp(PROVENANCE, once))
    assert _values(twice, "Iptc4xmpExt", "DigitalSourceType") == [DIGITAL_SOURCE_TYPE]
    assert len(_values(twice, "stEvt", "action")) == 2
    assert len(_values(twice, "colornet", "CheckpointSHA256")) == 1
    assert _values(twice, "colornet", "SourceDigitalSourceType") == [
        "http://cv.iptc.org/newscodes/digitalsourcetype/negativeFilm"]


def test_malformed_input_packet_is_replaced():
    root = _parse(build_xmp(PROVENANCE, b"<x:xmpmeta><broken"))
    assert _values(root, "Iptc4xmpExt", "DigitalSourceType") == [DIGITAL_SOURCE_TYPE]
