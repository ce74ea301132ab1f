#!/usr/bin/python3
"""tests/interop/noise_peer.py - one side of Noise_XX_25519_ChaChaPoly_SHA256, run by
python3-dissononce (an implementation independent of ours), for tests/check_sync_noise.c.

Usage: python3 tests/interop/noise_peer.py initiator|responder

Talks over stdin/stdout in frames: u16 big-endian length, then that many bytes.
  1. peer -> C   its static public key (32 bytes, in the clear: the out-of-band key the
                 C side checks sync_noise_remote_static against)
  2. the three handshake messages, raw Noise bytes, each carrying the payload
     b"<sender role> payload <message number>"; received payloads are checked here
  3. ECHOES times: C -> peer one transport message (key of C's direction, empty AD),
     peer -> C its plaintext reversed, under the other direction's key; nonces count from 0
     on both keys. Then once more with the nonces jumped to C_FAR_NONCE (C's message) and
     PEER_FAR_NONCE (the answer).
  4. peer -> C   in the clear: the remote static key it saw (32) || its handshake hash (32)
Exits 0 on success; on any failure prints the reason to stderr and exits 1.
Random keys every run; the prologue is fixed and must match the C side's.
"""
import struct
import sys

from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

PROLOGUE = b"outpost/noise/v1" + b"SNX1"
ECHOES = 3                          # transport messages at nonces 0, 1, 2 each way
C_FAR_NONCE = 0x0102030405060708    # then one more from C at this nonce
PEER_FAR_NONCE = 0x0807060504030201  # answered at this one


def read_frame(stream):
    head = stream.read(2)
    if len(head) != 2:
        raise EOFError("peer closed before a frame header")
    (n,) = struct.unpack(">H", head)
    body = stream.read(n)
    if len(body) != n:
        raise EOFError("peer closed inside a %d-byte frame" % n)
    return body


def write_frame(stream, data):
    stream.write(struct.pack(">H", len(data)) + data)
    stream.flush()


def payload_for(sender, num):
    return ("%s payload %d" % (sender, num)).encode()


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("initiator", "responder"):
        sys.stderr.write("usage: noise_peer.py initiator|responder\n")
        return 2
    initiator = sys.argv[1] == "initiator"
    me, them = ("initiator", "responder") if initiator else ("responder", "initiator")
    rd, wr = sys.stdin.buffer, sys.stdout.buffer

    dh = X25519DH()
    static = dh.generate_keypair()
    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), SHA256Hash()), dh)
    hs.initialize(XXHandshakePattern(), initiator, PROLOGUE, s=static)
    write_frame(wr, static.public.data)

    ciphers = None
    for num in (1, 2, 3):
        if (num % 2 == 1) == initiator:
            buf = bytearray()
            ciphers = hs.write_message(payload_for(me, num), buf)
            write_frame(wr, bytes(buf))
        else:
            got = bytearray()
            ciphers = hs.read_message(read_frame(rd), got)
            if bytes(got) != payload_for(them, num):
                raise ValueError("message %d payload %r, expected %r"
                                 % (num, bytes(got), payload_for(them, num)))
    if ciphers is None:
        raise ValueError("handshake did not end with split")
    i2r, r2i = ciphers
    send, recv = (i2r, r2i) if initiator else (r2i, i2r)

    for _ in range(ECHOES):
        plain = recv.decrypt_with_ad(b"", read_frame(rd))
        write_frame(wr, send.encrypt_with_ad(b"", plain[::-1]))
    # Far-off counters check every byte of the little-endian nonce encoding.
    recv.set_nonce(C_FAR_NONCE)
    send.set_nonce(PEER_FAR_NONCE)
    plain = recv.decrypt_with_ad(b"", read_frame(rd))
    write_frame(wr, send.encrypt_with_ad(b"", plain[::-1]))
    write_frame(wr, hs.rs.data + hs.symmetricstate.get_handshake_hash())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # report anything, including a failed tag, and fail
        sys.stderr.write("noise_peer.py: %s: %s\n" % (type(exc).__name__, exc))
        sys.exit(1)
