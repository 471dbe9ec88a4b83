"""Independent checks of castguard's CPIX documents (lxml + cryptography +
xmlsec (libxmlsec1) to verify signatures, signxml to make them; no
castguard code):

    cpix_check.py validate DOC.xml SCHEMA.xsd
        {"valid": bool, "errors": [...]} against the CPIX 2.3 schema
    cpix_check.py facts DOC.xml [RECIPIENT_KEY.pem]
        {"keys": {kid: hex value}, "drm": [...], "periods": [...],
        "rules": [...]}; with a key,
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
    cpix_check.py verify DOC.xml
        {"signatures": [{"valid", "subject", "error"}], "all_valid": bool}:
        every ds:Signature child of CPIX checked by xmlsec (libxmlsec1) with
        the certificate in its KeyInfo, ids from the `id` attributes
    cpix_check.py keygen DIR rsa|ec
        DIR/key.pem (PKCS#8) and DIR/cert.pem (self-signed) for signing
    cpix_check.py sign IN.xml OUT.xml KEY.pem CERT.pem ALG C14N [URI]
        signs with signxml (ALG rsa-sha256 | ecdsa-sha256 | ..., C14N an
        algorithm URI), a ds:Signature appended to CPIX, over URI ("" for
        the whole document, enveloped, or "#ListId")
    cpix_check.py encrypt IN.xml CERT.pem OUT.xml
        IN's PlainValues encrypted for CERT as CPIX 2.3 says (DeliveryData
        with RSA-OAEP-MGF1P document and MAC keys, AES-256-CBC values,
        HMAC-SHA512 ValueMACs)
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
            try:
                frag = etree.fromstring(b64(cpd), PARSER)
                entry["contentProtection"] = {"tag": frag.tag, "schemeIdUri": frag.get("schemeIdUri"),
                                              "children": [c.tag for c in frag]}
            except etree.XMLSyntaxError:
                # Several sibling elements (the DASH-IF vectors): not one fragment.
                entry["contentProtection"] = None
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


def verify(doc):
    import warnings

    import xmlsec
    from cryptography import x509

    warnings.simplefilter("ignore")  # the DASH-IF certificates have negative serials
    root = etree.parse(doc, PARSER).getroot()
    xmlsec.tree.add_ids(root, ["id"])
    out = []
    for sig in root.findall("ds:Signature", NS):
        der = base64.b64decode("".join(sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text.split()))
        entry = {"subject": x509.load_der_x509_certificate(der).subject.rfc4514_string()}
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer, None)
        try:
            ctx.verify(sig)
            entry["valid"] = True
        except xmlsec.Error as e:
            entry["valid"] = False
            entry["error"] = str(e)
        out.append(entry)
    return {"signatures": out, "all_valid": all(e["valid"] for e in out)}


def keygen(directory, kind):
    import datetime
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"cpix test signer {kind}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    with open(os.path.join(directory, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(directory, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return {"subject": name.rfc4514_string()}


def sign(src, dst, key_pem, cert_pem, alg, c14n, uri=""):
    from signxml import XMLSigner

    root = etree.parse(src, PARSER).getroot()
    with open(key_pem, "rb") as f:
        key = f.read()
    with open(cert_pem, "rb") as f:
        cert = f.read().decode()
    signer = XMLSigner(signature_algorithm=alg, digest_algorithm="sha256", c14n_algorithm=c14n)
    kwargs = {"reference_uri": uri} if uri else {}
    # Enveloped: signxml returns the root with the signature as its last
    # child, where CPIX puts signatures.
    signed = signer.sign(root, key=key, cert=cert, id_attribute="id", **kwargs)
    with open(dst, "wb") as f:
        f.write(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))
    return {"signed": True}


def encrypt(src, cert_pem, dst):
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, hmac, padding, serialization
    from cryptography.hazmat.primitives.asymmetric import padding as apad
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    with open(cert_pem, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    pub = cert.public_key()
    oaep = apad.OAEP(mgf=apad.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    document_key, mac_key = os.urandom(32), os.urandom(64)
    tree = etree.parse(src, PARSER)
    root = tree.getroot()
    C, P, E, D = (lambda n, k=k: "{%s}%s" % (NS[k], n) for k in ("cpix", "pskc", "enc", "ds"))

    def encrypted(parent, tag, alg, cipher):
        el = etree.SubElement(parent, tag)
        etree.SubElement(el, E("EncryptionMethod"), Algorithm=alg)
        etree.SubElement(etree.SubElement(el, E("CipherData")), E("CipherValue")).text = base64.b64encode(cipher).decode()
        return el

    ddl = etree.Element(C("DeliveryDataList"))
    dd = etree.SubElement(ddl, C("DeliveryData"))
    x = etree.SubElement(etree.SubElement(dd, C("DeliveryKey")), D("X509Data"))
    etree.SubElement(x, D("X509Certificate")).text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    dk = etree.SubElement(dd, C("DocumentKey"), Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc")
    secret = etree.SubElement(etree.SubElement(dk, C("Data")), P("Secret"))
    encrypted(secret, P("EncryptedValue"), "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", pub.encrypt(document_key, oaep))
    mm = etree.SubElement(dd, C("MACMethod"), Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha512")
    encrypted(mm, C("Key"), "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", pub.encrypt(mac_key, oaep))
    root.insert(0, ddl)
    for plain in root.findall("cpix:ContentKeyList/cpix:ContentKey/cpix:Data/pskc:Secret/pskc:PlainValue", NS):
        secret = plain.getparent()
        iv = os.urandom(16)
        p = padding.PKCS7(128).padder()
        padded = p.update(b64(plain)) + p.finalize()
        e = Cipher(algorithms.AES(document_key), modes.CBC(iv)).encryptor()
        cipher = iv + e.update(padded) + e.finalize()
        secret.remove(plain)
        encrypted(secret, P("EncryptedValue"), "http://www.w3.org/2001/04/xmlenc#aes256-cbc", cipher)
        h = hmac.HMAC(mac_key, hashes.SHA512())
        h.update(cipher)
        etree.SubElement(secret, P("ValueMAC")).text = base64.b64encode(h.finalize()).decode()
    tree.write(dst, xml_declaration=True, encoding="UTF-8")
    return {"encrypted": True}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "validate":
        print(json.dumps(validate(sys.argv[2], sys.argv[3])))
    elif cmd == "facts":
        print(json.dumps(facts(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    elif cmd == "speke":
        print(json.dumps(speke(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)))
    elif cmd == "verify":
        print(json.dumps(verify(sys.argv[2])))
    elif cmd == "keygen":
        print(json.dumps(keygen(sys.argv[2], sys.argv[3])))
    elif cmd == "sign":
        print(json.dumps(sign(*sys.argv[2:])))
    elif cmd == "encrypt":
        print(json.dumps(encrypt(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        sys.exit(f"unknown command {cmd}")
