// Signs interoperability cases with the official cos-nodejs-sdk-v5, and nothing else.
//
// Reads one JSON case per line on stdin and writes one JSON line per case on stdout, in
// order. Every signature comes from the SDK's own public calls (`COS.getAuthorization`,
// `cos.getObjectUrl`); this script only pins the SDK's clock and maps the case onto the
// SDK's options. A case the SDK refuses gets {"id": …, "error": "…"}. Run it from the
// workspace root so that `require` finds node_modules there.
//
// Case fields: see python_sdk.py beside this file; null_as_none is ignored, as the SDK has
// a single spelling for a valueless parameter (null, signed as an empty value).

'use strict';

const readline = require('readline');

const COS = require('cos-nodejs-sdk-v5');

const clients = new Map();

// One client per key pair (and token): the token is an option of the client, which
// appends it to presigned URLs.
function clientFor(c) {
  const ident = JSON.stringify([c.secret_id, c.secret_key, c.token]);
  if (!clients.has(ident)) {
    const options = { SecretId: c.secret_id, SecretKey: c.secret_key };
    if (c.token !== null) options.SecurityToken = c.token;
    clients.set(ident, new COS(options));
  }
  return clients.get(ident);
}

function toObject(pairs) {
  const out = {};
  for (const [name, value] of pairs) out[name] = value;
  return out;
}

// The URL the SDK addresses the object at, unsigned: the path a request would carry.
function objectUrl(c) {
  let url = null;
  clientFor(c).getObjectUrl({ Bucket: c.bucket, Region: c.region, Key: c.key || '/', Sign: false }, (err, data) => {
    if (err) throw err;
    url = data.Url;
  });
  return url;
}

function signHeader(c) {
  const options = {
    SecretId: c.secret_id,
    SecretKey: c.secret_key,
    Method: c.method,
    Key: c.key,
    Query: toObject(c.params),
    Headers: toObject(c.headers),
    KeyTime: `${c.start};${c.end}`,
  };
  // The SDK signs the bucket's host when it is told the bucket and region. A token is not
  // passed: the SDK's requests add x-cos-security-token after signing, unsigned.
  if (c.sign_host) {
    options.Bucket = c.bucket;
    options.Region = c.region;
  }
  return { authorization: COS.getAuthorization(options), url: objectUrl(c) };
}

function presign(c) {
  const cos = clientFor(c);
  const params = {
    Bucket: c.bucket,
    Region: c.region,
    // getObjectUrl refuses an empty key; it drops one leading slash, so "/" is the root.
    Key: c.key || '/',
    Method: c.method,
    Query: toObject(c.params),
    Headers: toObject(c.headers),
    Sign: true,
    // getObjectUrl has no KeyTime option: it signs (round(now) - 1; that + Expires).
    Expires: c.end - c.start,
  };
  if (!c.sign_host) params.ForceSignHost = false;
  return new Promise((resolve, reject) => {
    const realNow = Date.now;
    Date.now = () => (c.start + 1) * 1000;
    try {
      // The signature is computed before getObjectUrl returns; the callback, which gets
      // the documented URL form, comes on a timer.
      cos.getObjectUrl(params, (err, data) => (err ? reject(err) : resolve({ url: data.Url })));
    } catch (err) {
      reject(err);
    } finally {
      Date.now = realNow;
    }
  });
}

async function sign(c) {
  if (c.kind === 'header') return signHeader(c);
  if (c.kind === 'presign') return presign(c);
  throw new Error(`unknown kind ${c.kind}`);
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    let out;
    try {
      out = await sign(c);
    } catch (err) {
      out = { error: String(err && err.message ? err.message : err) };
    }
    out.id = c.id;
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

main().catch((err) => {
  process.stderr.write(`node driver failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
