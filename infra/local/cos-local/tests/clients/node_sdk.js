// Drives cos-local with the official COS Node.js SDK (cos-nodejs-sdk-v5), unchanged.
//
// Run by tests/sdk_clients.rs from the workspace root (so that the SDK resolves from its
// node_modules) with one argument: a JSON object with the port, bucket, region,
// credentials and a work directory. Every step checks the bytes that come back; a mismatch
// throws and the process exits non-zero. One line per passed check goes to stdout.

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const COS = require('cos-nodejs-sdk-v5');

const cfg = JSON.parse(process.argv[2]);
const Bucket = cfg.bucket;
const Region = cfg.region;

// Domain with no {Bucket} placeholder: every request goes to the default bucket of
// http://127.0.0.1:<port>. Protocol 'http:' because cos-local speaks plain HTTP.
const cos = new COS({
  SecretId: cfg.secret_id,
  SecretKey: cfg.secret_key,
  Domain: `127.0.0.1:${cfg.port}`,
  Protocol: 'http:',
});

function check(name, condition, detail) {
  if (!condition) {
    throw new Error(`${name} failed ${detail === undefined ? '' : JSON.stringify(detail)}`);
  }
  console.log(`ok ${name}`);
}

const md5 = (data) => crypto.createHash('md5').update(data).digest('hex');

function uploadFile(params) {
  return new Promise((resolve, reject) => {
    cos.uploadFile(params, (err, data) => (err ? reject(err) : resolve(data)));
  });
}

async function main() {
  const key = 'node/dir/hello wörld+~(1).txt';
  const body = Buffer.from('hello from the node sdk\n'.repeat(10));
  const put = await cos.putObject({
    Bucket,
    Region,
    Key: key,
    Body: body,
    ContentType: 'text/plain',
    Headers: { 'x-cos-meta-owner': '7' },
  });
  check('putObject etag', put.ETag === `"${md5(body)}"`, put);

  const got = await cos.getObject({ Bucket, Region, Key: key });
  check('getObject bytes', Buffer.compare(got.Body, body) === 0);
  check('getObject metadata', got.headers['x-cos-meta-owner'] === '7', got.headers);

  const ranged = await cos.getObject({ Bucket, Region, Key: key, Range: 'bytes=6-9' });
  check('getObject range', ranged.statusCode === 206 && ranged.Body.toString() === body.subarray(6, 10).toString());

  const head = await cos.headObject({ Bucket, Region, Key: key });
  check('headObject length', Number(head.headers['content-length']) === body.length, head.headers);

  // A file over 20 MB goes up in 4 MB parts through sliceUploadFile.
  const bigPath = path.join(cfg.workdir, 'node-big.bin');
  const big = crypto.randomBytes(21 * 1024 * 1024 + 777);
  fs.writeFileSync(bigPath, big);
  const uploaded = await uploadFile({
    Bucket,
    Region,
    Key: 'node/big.bin',
    FilePath: bigPath,
    SliceSize: 1024 * 1024,
    ChunkSize: 4 * 1024 * 1024,
  });
  check('uploadFile multipart etag', /-6"?$/.test(uploaded.ETag), uploaded);
  const bigBack = await cos.getObject({ Bucket, Region, Key: 'node/big.bin' });
  check('getObject multipart bytes', Buffer.compare(bigBack.Body, big) === 0);
  const tail = await cos.getObject({ Bucket, Region, Key: 'node/big.bin', Range: 'bytes=-1000' });
  check('getObject multipart tail', Buffer.compare(tail.Body, big.subarray(big.length - 1000)) === 0);

  const listed = await cos.getBucket({ Bucket, Region, Prefix: 'node/', Delimiter: '/' });
  check('getBucket keys', JSON.stringify(listed.Contents.map((c) => c.Key)) === '["node/big.bin"]', listed);
  check('getBucket prefixes', JSON.stringify(listed.CommonPrefixes.map((p) => p.Prefix)) === '["node/dir/"]', listed);

  const url = cos.getObjectUrl({ Bucket, Region, Key: key, Sign: true });
  const fetched = await fetch(url);
  const fetchedBody = Buffer.from(await fetched.arrayBuffer());
  check('getObjectUrl presigned', fetched.status === 200 && Buffer.compare(fetchedBody, body) === 0, url.split('?')[0]);

  // Path-style through Domain: any configured bucket, not only the default one.
  const pathStyle = new COS({
    SecretId: cfg.secret_id,
    SecretKey: cfg.secret_key,
    Domain: `127.0.0.1:${cfg.port}/{Bucket}`,
    Protocol: 'http:',
  });
  const other = { Bucket: cfg.second_bucket, Region: cfg.second_region };
  await pathStyle.putObject({ ...other, Key: 'node/other bucket.txt', Body: Buffer.from('second') });
  const second = await pathStyle.getObject({ ...other, Key: 'node/other bucket.txt' });
  check('path-style second bucket', second.Body.toString() === 'second');
  try {
    await cos.headObject({ Bucket, Region, Key: 'node/other bucket.txt' });
    check('buckets are separate', false);
  } catch (err) {
    check('buckets are separate', err.statusCode === 404, err);
  }

  const deleted = await cos.deleteObject({ Bucket, Region, Key: key });
  check('deleteObject', deleted.statusCode === 204, deleted);
  try {
    await cos.headObject({ Bucket, Region, Key: key });
    check('headObject after delete', false);
  } catch (err) {
    check('headObject after delete', err.statusCode === 404, err);
  }

  const wrong = new COS({
    SecretId: cfg.secret_id,
    SecretKey: 'not-the-key',
    Domain: `127.0.0.1:${cfg.port}`,
    Protocol: 'http:',
  });
  try {
    await wrong.putObject({ Bucket, Region, Key: 'node/denied', Body: Buffer.from('x') });
    check('wrong key refused', false);
  } catch (err) {
    check('wrong key refused', err.code === 'SignatureDoesNotMatch', err);
  }

  console.log(JSON.stringify({ big_md5: md5(big) }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
