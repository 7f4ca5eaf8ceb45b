"""A throwaway certificate authority for the TLS tests: a CA, a server certificate for 127.0.0.1 and
localhost, and a client certificate, written as PEM files.

Where `cryptography` cannot load (its win_amd64 wheel under Wine: "DLL load failed while importing _rust"),
the files are made beforehand by another Python (`python tests/certs.py FOLDER`, as .ci/windows.sh does) and
HRPYC_TEST_CERTS names that folder: the tests then copy them."""

import datetime
import ipaddress
import os
import shutil
import sys

NAMES = ("ca", "server", "client", "stranger", "expired")
PREMADE = os.environ.get("HRPYC_TEST_CERTS")  # read at import: each test runs without HRPYC_* variables
PREMADE_NAMES = ("ws042",)  # the server names any test asks for, besides 127.0.0.1 and localhost


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(path, key, cert):
    from cryptography.hazmat.primitives import serialization

    with open(path + ".key", "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(path + ".pem", "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return path + ".pem", path + ".key"


def _cert(subject, key, issuer, issuer_key, ca=False, sans=(), expired=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3 if expired else 0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # What Python 3.13's strict verification (VERIFY_X509_STRICT, on by default) asks of a chain.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        usage = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement"),
            False,
        )
        builder = builder.add_extension(
            x509.KeyUsage(key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False, **usage),
            critical=True,
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_authority(folder, names=()):
    """{'ca': path, 'server': (cert, key), 'client': (cert, key), 'stranger': (cert, key), 'expired': (cert, key)}:
    the server's certificates are for 127.0.0.1, localhost and `names`; 'expired' ran out two days ago."""
    if PREMADE:
        assert set(names) <= set(PREMADE_NAMES), "add {} to certs.PREMADE_NAMES".format(names)
        return _copy_authority(PREMADE, folder)
    from cryptography import x509

    ca_key = _key()
    ca = _cert("hrpyc test CA", ca_key, "hrpyc test CA", ca_key, ca=True)
    ca_path = _write(os.path.join(folder, "ca"), ca_key, ca)[0]
    server_key = _key()
    sans = (x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *map(x509.DNSName, ("localhost", *names)))
    server = _write(
        os.path.join(folder, "server"), server_key, _cert("127.0.0.1", server_key, "hrpyc test CA", ca_key, sans=sans)
    )
    client_key = _key()
    client = _write(os.path.join(folder, "client"), client_key, _cert("td", client_key, "hrpyc test CA", ca_key))
    other_key = _key()
    stranger = _write(os.path.join(folder, "stranger"), other_key, _cert("stranger", other_key, "stranger", other_key))
    expired = _write(
        os.path.join(folder, "expired"),
        server_key,
        _cert("127.0.0.1", server_key, "hrpyc test CA", ca_key, sans=sans, expired=True),
    )
    return {"ca": ca_path, "server": server, "client": client, "stranger": stranger, "expired": expired}


def _copy_authority(source, folder):
    """The files `make_authority` wrote into `source`, copied into `folder`: the same dictionary."""
    for name in NAMES:
        for suffix in (".pem", ".key"):
            shutil.copyfile(os.path.join(source, name + suffix), os.path.join(folder, name + suffix))
    paths = {name: (os.path.join(folder, name + ".pem"), os.path.join(folder, name + ".key")) for name in NAMES}
    paths["ca"] = paths["ca"][0]
    return paths


if __name__ == "__main__":
    make_authority(sys.argv[1], PREMADE_NAMES)
