"""Independent checks of castguard's CPIX documents (lxml + cryptography,
no castguard code):

    cpix_check.py validate DOC.xml SCHEMA.xsd
        {"valid": bool, "errors": [...]} against the CPIX 2.3 schema
    cpix_check.py facts DOC.xml [RECIPIENT_KEY.pem]
        {"keys": {kid: hex value}, "drm": [...], "periods": [...],
        "rules": [...]}; with a key,
        encrypted values are decrypted here: RSA-OAEP (SHA-1, MGF1-SHA-1)
        document and MAC keys, HMAC-SHA512 over IV||ciphertext checked,
        AES-256-CBC with PKCS#7.
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
    periods = [{"id": p.get("id"), "index": p.get("index")}
               for p in root.findall("cpix:ContentKeyPeriodList/cpix:ContentKeyPeriod", NS)]
    return {"keys": keys, "drm": drm, "periods": periods, "rules": rules, "encrypted": document_key is not None}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "validate":
        print(json.dumps(validate(sys.argv[2], sys.argv[3])))
    elif cmd == "facts":
        print(json.dumps(facts(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    else:
        sys.exit(f"unknown command {cmd}")
