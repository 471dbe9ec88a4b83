"""Independent checks of castguard's CPIX documents (lxml + cryptography,
no castguard code):

    cpix_check.py validate DOC.xml SCHEMA.xsd
        {"valid": bool, "errors": [...]} against the CPIX 2.3 schema
    cpix_check.py facts DOC.xml [RECIPIENT_KEY.pem]
        {"keys": {kid: hex value}, "drm": [...], "rules": [...]}; with a key,
        encrypted values are decrypted here: RSA-OAEP (SHA-1, MGF1-SHA-1)
        document and MAC keys, HMAC-SHA512 over IV||ciphertext checked,
        AES-256-CBC with PKCS#7.
    cpix_check.py speke REQUEST.xml ANSWER.xml [RECIPIENT_KEY.pem]
        {"problems": [...], "keys": {kid: hex}, ...}: a SPEKE v2 answer
        judged as AWS's verification suite judges it: the cpix and pskc
        prefixes declared, CPIX@version 2.3 and the request's contentId,
        every ContentKey, DRMSystem child and usage rule of the request back
        (one each, filled: PSSH a pssh box of the DRM system, HLS data
        EXT-X-KEY / EXT-X-SESSION-KEY lines, ContentProtectionData a
        ContentProtection element), every key with a value.
"""

import base64
import json
import sys

from lxml import etree

NS = {
    "cpix": "urn:dashif:org:cpix",
    "pskc": "urn:ietf:params:xml:ns:keyprov:pskc",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)


def validate(doc, xsd):
    schema = etree.XMLSchema(etree.parse(xsd, PARSER))
    tree = etree.parse(doc, PARSER)
    ok = schema.validate(tree)
    return {"valid": ok, "errors": [str(e) for e in schema.error_log]}


def b64(el):
    return base64.b64decode("".join(el.text.split())) if el is not None and el.text else b""


def facts(doc, key_pem=None):
    from cryptography.hazmat.primitives import hashes, hmac, padding, serialization
    from cryptography.hazmat.primitives.asymmetric import padding as apad
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    root = etree.parse(doc, PARSER).getroot()
    document_key = mac_key = None
    if key_pem:
        with open(key_pem, "rb") as f:
            priv = serialization.load_pem_private_key(f.read(), password=None)
        oaep = apad.OAEP(mgf=apad.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        dd = root.find("cpix:DeliveryDataList/cpix:DeliveryData", NS)
        document_key = priv.decrypt(
            b64(dd.find("cpix:DocumentKey/cpix:Data/pskc:Secret/pskc:EncryptedValue/enc:CipherData/enc:CipherValue", NS)), oaep)
        mac_key = priv.decrypt(b64(dd.find("cpix:MACMethod/cpix:Key/enc:CipherData/enc:CipherValue", NS)), oaep)
    keys = {}
    for ck in root.findall("cpix:ContentKeyList/cpix:ContentKey", NS):
        secret = ck.find("cpix:Data/pskc:Secret", NS)
        plain = secret.find("pskc:PlainValue", NS)
        if plain is not None:
            value = b64(plain)
        else:
            cipher = b64(secret.find("pskc:EncryptedValue/enc:CipherData/enc:CipherValue", NS))
            h = hmac.HMAC(mac_key, hashes.SHA512())
            h.update(cipher)
            h.verify(b64(secret.find("pskc:ValueMAC", NS)))
            d = Cipher(algorithms.AES(document_key), modes.CBC(cipher[:16])).decryptor()
            padded = d.update(cipher[16:]) + d.finalize()
            u = padding.PKCS7(128).unpadder()
            value = u.update(padded) + u.finalize()
        keys[ck.get("kid")] = value.hex()
    drm = []
    for d in root.findall("cpix:DRMSystemList/cpix:DRMSystem", NS):
        entry = {"systemId": d.get("systemId"), "kid": d.get("kid"), "name": d.get("name")}
        pssh = d.find("cpix:PSSH", NS)
        if pssh is not None:
            box = b64(pssh)
            entry["psshType"] = box[4:8].decode("latin-1")
            entry["psshSystem"] = box[12:28].hex()
        cpd = d.find("cpix:ContentProtectionData", NS)
        if cpd is not None:
            frag = etree.fromstring(b64(cpd), PARSER)
            entry["contentProtection"] = {"tag": frag.tag, "schemeIdUri": frag.get("schemeIdUri"),
                                          "children": [c.tag for c in frag]}
        uri = d.find("cpix:URIExtXKey", NS)
        if uri is not None:
            entry["uri"] = b64(uri).decode()
        for h in d.findall("cpix:HLSSignalingData", NS):
            entry["hls_" + h.get("playlist", "media")] = b64(h).decode()
        drm.append(entry)
    rules = []
    for r in root.findall("cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule", NS):
        rules.append({"kid": r.get("kid"), "intendedTrackType": r.get("intendedTrackType"),
                      "filters": [{"tag": etree.QName(f).localname, **dict(f.attrib)} for f in r]})
    return {"keys": keys, "drm": drm, "rules": rules, "encrypted": document_key is not None}


def speke(request, answer, key_pem=None):
    req = etree.parse(request, PARSER).getroot()
    ans = etree.parse(answer, PARSER).getroot()
    problems = []

    def need(ok, what):
        if not ok:
            problems.append(what)

    need(ans.tag == "{urn:dashif:org:cpix}CPIX", "root is not cpix:CPIX")
    need(ans.nsmap.get("cpix") == NS["cpix"], "the cpix prefix is not declared")
    need(ans.nsmap.get("pskc") == NS["pskc"], "the pskc prefix is not declared")
    need(ans.get("version") == "2.3", "CPIX@version is not 2.3")
    need(ans.get("contentId") == req.get("contentId"), "contentId changed")
    need("id" not in ans.attrib, "CPIX@id is deprecated in SPEKE v2")
    for name in ("ContentKeyList", "DRMSystemList", "ContentKeyUsageRuleList"):
        need(len(ans.findall("cpix:" + name, NS)) == 1, f"not exactly one {name}")
    for ck in req.findall("cpix:ContentKeyList/cpix:ContentKey", NS):
        kid = ck.get("kid")
        got = ans.findall(f"cpix:ContentKeyList/cpix:ContentKey[@kid='{kid}']", NS)
        need(len(got) == 1, f"ContentKey {kid} not answered once")
        if got:
            need(got[0].get("commonEncryptionScheme") == ck.get("commonEncryptionScheme"),
                 f"ContentKey {kid}: commonEncryptionScheme changed")
            secret = got[0].findall("cpix:Data/pskc:Secret", NS)
            need(len(secret) == 1, f"ContentKey {kid}: not one Data/Secret")
            if secret:
                v = secret[0].find("pskc:PlainValue", NS)
                e = secret[0].find("pskc:EncryptedValue", NS)
                need((v is not None and (v.text or "").strip()) or e is not None, f"ContentKey {kid}: no value")
    for d in req.findall("cpix:DRMSystemList/cpix:DRMSystem", NS):
        kid, sid = d.get("kid"), d.get("systemId")
        got = ans.findall(f"cpix:DRMSystemList/cpix:DRMSystem[@kid='{kid}'][@systemId='{sid}']", NS)
        need(len(got) == 1, f"DRMSystem {sid} {kid} not answered once")
        if not got:
            continue
        for child in d:
            tag = etree.QName(child).localname
            path = "cpix:" + tag + (f"[@playlist='{child.get('playlist')}']" if child.get("playlist") else "")
            found = got[0].findall(path, NS)
            at = f"DRMSystem {sid} {kid} {tag} {child.get('playlist') or ''}".strip()
            need(len(found) == 1 and (found[0].text or "").strip(), f"{at}: not answered once, filled")
            if len(found) != 1 or not (found[0].text or "").strip():
                continue
            if tag == "SmoothStreamingProtectionHeaderData":
                pro = base64.b64decode(found[0].text)
                need(int.from_bytes(pro[:4], "little") == len(pro), f"{at}: not a PlayReady Object")
                continue
            data = b64(found[0])
            if tag == "PSSH":
                need(data[4:8] == b"pssh" and int.from_bytes(data[:4], "big") == len(data), f"{at}: not a pssh box")
                need(data[12:28].hex() == sid.replace("-", ""), f"{at}: pssh of another system")
            elif tag == "ContentProtectionData":
                frag = etree.fromstring(data, PARSER)
                need(etree.QName(frag).localname == "ContentProtection", f"{at}: not a ContentProtection element")
            elif tag == "HLSSignalingData":
                line = data.decode()
                want = "#EXT-X-SESSION-KEY:" if child.get("playlist") == "master" else "#EXT-X-KEY:"
                need(line.startswith(want) and "URI=" in line, f"{at}: not an {want} line")
            elif tag == "URIExtXKey":
                need(b"://" in data or data.startswith(b"data:"), f"{at}: not a URI")
    for r in req.findall("cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule", NS):
        kid = r.get("kid")
        got = ans.findall(f"cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule[@kid='{kid}']", NS)
        need(len(got) == 1, f"ContentKeyUsageRule {kid} not answered once")
        if got:
            need(got[0].get("intendedTrackType") == r.get("intendedTrackType"), f"ContentKeyUsageRule {kid}: intendedTrackType changed")
            need([(etree.QName(f).localname, dict(f.attrib)) for f in got[0]] ==
                 [(etree.QName(f).localname, dict(f.attrib)) for f in r], f"ContentKeyUsageRule {kid}: filters changed")
    for p in req.findall("cpix:ContentKeyPeriodList/cpix:ContentKeyPeriod", NS):
        got = ans.findall(f"cpix:ContentKeyPeriodList/cpix:ContentKeyPeriod[@id='{p.get('id')}']", NS)
        need(len(got) == 1 and got[0].get("index") == p.get("index"), f"ContentKeyPeriod {p.get('id')} not answered")
    if problems:
        return {"problems": problems}
    return {"problems": problems, **facts(answer, key_pem)}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "validate":
        print(json.dumps(validate(sys.argv[2], sys.argv[3])))
    elif cmd == "facts":
        print(json.dumps(facts(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    elif cmd == "speke":
        print(json.dumps(speke(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)))
    else:
        sys.exit(f"unknown command {cmd}")
