#!/usr/bin/env python3
# The test vectors of crates/cognito-session/src/device.rs, computed independently of it with
# Python's own big integers (pow) and hashlib. Run: python3 scripts/device-verifier-vectors.py
# Independent check of the Cognito device verifier: N derived from its RFC 3526 definition
# (2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 * pi) + 1690314)), pi by Machin's formula.
import hashlib, base64
from decimal import Decimal, getcontext
getcontext().prec = 1000
def arctan_inv(x):
    x = Decimal(x); total = Decimal(0); term = 1 / x; n = 1; sign = 1; x2 = x * x
    while term > Decimal(10) ** -990:
        total += sign * term / n; term /= x2; n += 2; sign = -sign
    return total
pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)
N = 2**3072 - 2**3008 - 1 + 2**64 * (int(Decimal(2**2942) * pi) + 1690314)
N_HEX = (
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74'
    '020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437'
    '4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED'
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05'
    '98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB'
    '9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B'
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718'
    '3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33'
    'A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7'
    'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864'
    'D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2'
    '08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF'
)
assert N == int(N_HEX, 16), "N mismatch"
print("N matches RFC 3526 definition")
def pad(n):
    b = n.to_bytes(max(1, (n.bit_length() + 7) // 8), 'big')
    return b'\x00' + b if b[0] & 0x80 else b
def vector(group, key, password, salt):
    inner = hashlib.sha256((group + key + ':' + password).encode()).digest()
    s = pad(int.from_bytes(salt, 'big'))
    x = int.from_bytes(hashlib.sha256(s + inner).digest(), 'big')
    v = pow(2, x, N)
    return base64.b64encode(s).decode(), base64.b64encode(pad(v)).decode()
for salt in [bytes(range(1, 17)), bytes([0, 0]) + bytes(range(0x10, 0x1e)), bytes([0xf0] * 16)]:
    print(salt.hex(), vector('-AbCdEfGh', 'us-east-1_8c4b6d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e', 'fixed device password', salt))
