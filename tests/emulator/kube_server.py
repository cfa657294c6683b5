"""The HTTPS side of an emulated cluster's API server: its CA and serving certificate, and the request handler
(bearer tokens the emulator issued, JSON in and out).
"""

import datetime
import ipaddress
import json
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .isolation import admits
from .kube_kinds import KubeError


def make_ca_and_cert():
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM bytes: ca, cert, key)."""
    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("emulated-cluster-ca")).issuer_name(name("emulated-cluster-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("kube-apiserver")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's delayed
    # ACK hold the body back about 40 ms on every keep-alive request, which no real API server does.
    disable_nagle_algorithm = True
    kube = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _reply(self, status, payload, warnings=()):
        if isinstance(payload, bytes):
            data, content_type = payload, "text/plain"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            self.send_header("Warning", '299 - "%s"' % warning.replace('"', "'"))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kube = self.kube
        if not admits(kube.cluster, self.client_address[0]):
            # not an authorized network of the control plane: GKE drops the connection (the client times out)
            self.close_connection = True
            return None
        auth = self.headers.get("Authorization", "")
        if not kube.emu.authenticated(auth):
            return self._reply(401, KubeError(401, "Unauthorized").body())
        try:
            body = None
            if raw:
                content_type = self.headers.get("Content-Type", "")
                body = yaml.safe_load(raw) if "yaml" in content_type else json.loads(raw)
            status, payload, warnings, changed = kube.handle(self.command, parsed.path, query, body,
                                                             self.headers.get("Content-Type"))
        except KubeError as exc:
            status, payload, warnings, changed = exc.code, exc.body(), [], False
        except (ValueError, yaml.YAMLError) as exc:
            status, payload, warnings, changed = 400, KubeError(
                400, "could not decode the request body: %s" % exc).body(), [], False
        except Exception as exc:  # pylint: disable=broad-except  # an emulator bug: answer it, do not hang up
            status, payload, warnings, changed = 500, KubeError(
                500, "emulator error: %r" % exc, "InternalError").body(), [], False
        kube.emu.log({"time": time.time(), "method": self.command, "path": parsed.path, "query": query,
                      "body": "<secret>" if "/secrets" in parsed.path else body,
                      "status": status, "method_id": "kubernetes:%s" % kube.name, "changed": changed})
        return self._reply(status, payload, warnings)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
