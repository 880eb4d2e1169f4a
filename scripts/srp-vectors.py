#!/usr/bin/env python3
# The test vectors of crates/cognito-session/src/login/srp.rs (Cognito's USER_SRP_AUTH password
# claim), computed independently of it with Python's own big integers (pow), hashlib and hmac.
# Run: python3 scripts/srp-vectors.py
#
# Each vector also plays the server: B = k*v + g^b mod N for a fixed b, and the server's
# S = (A * v^u)^b mod N must equal the client's S = (B - k*g^x)^(a + u*x) mod N, which shows
# that a Cognito holding the verifier v = g^x would accept the claim.
import base64, hashlib, hmac

N = int(
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
    '08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF', 16)
g = 2
# The same N as scripts/device-verifier-vectors.py derives from RFC 3526's definition.
assert N.bit_length() == 3072


def pad(n):
    """Big-endian bytes of n, with a leading zero byte when the top bit is set."""
    b = n.to_bytes(max(1, (n.bit_length() + 7) // 8), 'big')
    return b'\x00' + b if b[0] & 0x80 else b


def H(*parts):
    return int.from_bytes(hashlib.sha256(b''.join(parts)).digest(), 'big')


k = H(pad(N), pad(g))


def vector(name, a, b, pool_id, user_id, password, salt_hex, secret_block, timestamp):
    pool_name = pool_id.split('_', 1)[1]
    salt = int(salt_hex, 16)
    x = H(pad(salt), hashlib.sha256(f'{pool_name}{user_id}:{password}'.encode()).digest())
    v = pow(g, x, N)
    A = pow(g, a, N)
    B = (k * v + pow(g, b, N)) % N
    u = H(pad(A), pad(B))
    assert A % N != 0 and B % N != 0 and u != 0
    S = pow((B - k * pow(g, x, N)) % N, a + u * x, N)
    assert S == pow(A * pow(v, u, N) % N, b, N), 'client and server disagree'
    # HKDF-SHA256, salt = pad(u), input key material = pad(S), info "Caldera Derived Key", 16 bytes.
    prk = hmac.new(pad(u), pad(S), hashlib.sha256).digest()
    key = hmac.new(prk, b'Caldera Derived Key\x01', hashlib.sha256).digest()[:16]
    message = pool_name.encode() + user_id.encode() + base64.b64decode(secret_block) + timestamp.encode()
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    print(f'== {name}')
    print(f'a      = {a:x}')
    print(f'SRP_A  = {A:x}')
    print(f'SRP_B  = {B:x}')
    print(f'u      = {u:x}')
    print(f'x      = {x:x}')
    print(f'S      = {S:x}')
    print(f'key    = {key.hex()}')
    print(f'claim  = {signature}')


vector(
    'vector 1', a=int('0123456789abcdef' * 16, 16), b=int('fedcba9876543210' * 16, 16),
    pool_id='us-east-1_AbCdEfGhI', user_id='alice', password='Correct-horse-9!',
    salt_hex='f0e1d2c3b4a5968778695a4b3c2d1e0f',
    secret_block=base64.b64encode(bytes(range(64))).decode(),
    timestamp='Tue Dec 1 14:05:09 UTC 2026')
vector(
    'vector 2', a=int('7' * 250, 16), b=int('3' * 64, 16),
    pool_id='eu-west-1_Zz9', user_id='8c4b6d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e', password='p\u00e4ss w0rd',
    salt_hex='0001a2b3c4d5e6f708',
    secret_block=base64.b64encode(b'secret block \xff\x00').decode(),
    timestamp='Sun Feb 28 09:00:00 UTC 2027')
