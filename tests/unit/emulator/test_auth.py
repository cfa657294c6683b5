"""The emulator's authentication is real: only its own tokens and JWTs signed by keys it issued pass."""

import json
import time

from google.auth import crypt, jwt

from emulator import Emulator
from emulator.__main__ import make_service_account


def signed(key_file, issuer=None):
    with open(key_file) as handle:
        info = json.load(handle)
    signer = crypt.RSASigner.from_service_account_info(info)
    now = int(time.time())
    claims = {"iss": issuer or info["client_email"], "sub": info["client_email"], "aud": "https://compute.googleapis.com/",
              "iat": now, "exp": now + 600}
    return jwt.encode(signer, claims).decode()


def test_self_signed_jwt_must_use_a_known_key(tmp_path):
    emu = Emulator(project="p-123456")
    make_service_account(emu, str(tmp_path / "known.json"), "p-123456", "http://127.0.0.1:1")
    stranger = Emulator(project="p-123456")
    make_service_account(stranger, str(tmp_path / "stranger.json"), "p-123456", "http://127.0.0.1:1")
    assert emu.authenticated("Bearer " + signed(str(tmp_path / "known.json")))
    # same e-mail, another key: the signature does not verify
    assert not emu.authenticated("Bearer " + signed(str(tmp_path / "stranger.json")))
    assert not emu.authenticated("Bearer not-a-token")
    assert not emu.authenticated("")
    emu.tokens.add("ya29.registered")
    assert emu.authenticated("Bearer ya29.registered")
