// aws-jwt-verify on the tokens minted by `verify_bench mint`: the JWKS is preloaded with
// cacheJwks (no fetch), every token goes through verifySync (signature and claims), round-robin
// for the given number of seconds on this one thread. Prints one JSON line.
import { readFileSync } from "node:fs";
import { CognitoJwtVerifier } from "aws-jwt-verify";

const [dir, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? "5");
const tokens = readFileSync(`${dir}/tokens.txt`, "utf8").trim().split("\n");
const jwks = JSON.parse(readFileSync(`${dir}/jwks.json`, "utf8"));
const { pool, client } = JSON.parse(readFileSync(`${dir}/pool.json`, "utf8"));

const verifier = CognitoJwtVerifier.create({
  userPoolId: pool,
  tokenUse: "access",
  clientId: client,
});
verifier.cacheJwks(jwks);

for (const token of tokens) verifier.verifySync(token); // warm-up, and every token must verify

let verified = 0;
const start = process.hrtime.bigint();
const end = start + BigInt(Math.round(seconds * 1e9));
while (process.hrtime.bigint() < end) {
  for (const token of tokens) {
    verifier.verifySync(token);
    verified += 1;
  }
}
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const rate = verified / elapsed;
console.log(
  JSON.stringify({
    verifier: `aws-jwt-verify ${JSON.parse(readFileSync(new URL("./node_modules/aws-jwt-verify/package.json", import.meta.url), "utf8")).version} (node ${process.version})`,
    tokens: tokens.length,
    verifications: verified,
    seconds: elapsed,
    per_second_per_core: Math.round(rate),
    microseconds_each: 1e6 / rate,
  }),
);
