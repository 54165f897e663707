// Checks a Sentry Hub webhook delivery in Node.js (docs/webhooks.md).
// The hub's tests run this file against real deliveries.
'use strict';
const crypto = require('node:crypto');

const WINDOW_SECONDS = 300; // X-Sentry-Timestamp may be 5 minutes from now, either way

// deliveryProblem returns null when a delivery is genuine, else a short reason.
//   headers: the request's headers, an object (names in any letter case)
//   rawBody: the request body exactly as received, a Buffer
//   secrets: { 1: Buffer, 2: Buffer }, the secret of each generation you hold
//   now:     Unix seconds; the current time by default
function deliveryProblem(headers, rawBody, secrets, now = Math.floor(Date.now() / 1000)) {
  const byName = {};
  for (const [name, value] of Object.entries(headers)) byName[name.toLowerCase()] = value;
  const signature = String(byName['x-sentry-signature'] || '');
  if (!signature.startsWith('sha256=') || signature === 'sha256=') return 'no-signature';
  const digest = signature.slice('sha256='.length);
  const generation = wholeNumber(byName['x-sentry-signature-generation']);
  const stamp = wholeNumber(byName['x-sentry-timestamp']);
  if (generation === null || stamp === null) return 'bad-header';
  if (generation !== 1 && generation !== 2) return 'unknown-generation';
  if (Math.abs(now - stamp) > WINDOW_SECONDS) return 'outside-window';
  const key = secrets[generation];
  if (!key || key.length === 0) return 'no-secret'; // e.g. generation 2 once its 24 hours are over
  const expected = crypto.createHmac('sha256', key).update(`${stamp}.`).update(rawBody).digest();
  if (!/^[0-9a-f]{64}$/.test(digest)) return 'mismatch';
  if (!crypto.timingSafeEqual(expected, Buffer.from(digest, 'hex'))) return 'mismatch'; // constant time
  return null;
}

// wholeNumber reads a header holding a decimal integer, or returns null.
function wholeNumber(value) {
  if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value)) return null;
  return Number(value);
}

module.exports = { deliveryProblem };
