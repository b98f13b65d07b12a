// Drives the sfemu Salesforce emulator with jsforce, a real client: SOAP login, record create, retrieve, update,
// SOQL query with queryMore and COUNT(), a Bulk API 2.0 query, describe and delete of Accounts, the Streaming API
// client receiving the change events of exactly those changes and the events of a PushTopic created over REST,
// and a subscription to a channel that does not exist. It prints one JSON line of what it saw, for
// sfemu/jsforce_test.go to check; it decides nothing itself.
//
// Environment: SFEMU_URL (the emulator's base URL), SFEMU_USERNAME, SFEMU_PASSWORD.
import jsforce from 'jsforce';

const url = process.env.SFEMU_URL;
const deadline = setTimeout(() => {
  console.error('timed out');
  process.exit(3);
}, 60000);

// SOAP login() is in API versions 31.0 to 64.0.
const conn = new jsforce.Connection({ loginUrl: url, version: '64.0' });
const out = {};

function subscribe(channel, onMessage) {
  return new Promise((resolve, reject) => {
    const sub = conn.streaming.topic(channel).subscribe(onMessage);
    sub.callback(() => resolve(sub));
    sub.errback((err) => reject(err));
  });
}

async function waitFor(cond, what) {
  for (let i = 0; i < 200 && !cond(); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!cond()) throw new Error('timed out waiting for ' + what);
}

try {
  const info = await conn.login(process.env.SFEMU_USERNAME, process.env.SFEMU_PASSWORD);
  out.login = { userId: info.id, organizationId: info.organizationId, instanceUrl: conn.instanceUrl };

  // A PushTopic created over REST, before the changes.
  const topic = await conn.sobject('PushTopic').create({
    Name: 'JsforceAccounts', Query: "SELECT Id, Name, Phone FROM Account WHERE Name LIKE 'jsforce%'",
    ApiVersion: 64.0, NotifyForFields: 'Referenced',
  });
  out.pushTopic = topic;

  const cdc = [];
  const topicEvents = [];
  await subscribe('/data/AccountChangeEvent', (m) => cdc.push(m));
  await subscribe('/topic/JsforceAccounts', (m) => topicEvents.push(m));
  try {
    await subscribe('/event/NoSuchEvent__e', () => {});
    out.badSubscribe = 'subscribed';
  } catch (err) {
    out.badSubscribe = String(err && err.message ? err.message : err);
  }

  const created = await conn.sobject('Account').create({ Name: 'jsforce Account', Industry: 'Energy' });
  out.created = created;
  out.retrieved = await conn.sobject('Account').retrieve(created.id, { fields: ['Name', 'Industry'] });
  out.updated = await conn.sobject('Account').update({ Id: created.id, Phone: '(415) 555-0142' });
  out.afterUpdate = await conn.sobject('Account').retrieve(created.id, { fields: ['Phone'] });

  let page = await conn.query('SELECT Id, Name FROM Account');
  const ids = new Set();
  out.query = { totalSize: page.totalSize, pages: 0 };
  for (;;) {
    out.query.pages++;
    for (const r of page.records) ids.add(r.Id);
    if (page.done) break;
    page = await conn.queryMore(page.nextRecordsUrl);
  }
  out.query.distinctIds = ids.size;
  out.query.hasCreated = ids.has(created.id);
  out.count = (await conn.query('SELECT COUNT() FROM Account')).totalSize;

  const bulkRecords = await (await conn.bulk2.query('SELECT Id, Name FROM Account')).toArray();
  out.bulk = { rows: bulkRecords.length, hasCreated: bulkRecords.some((r) => r.Id === created.id) };

  const describe = await conn.sobject('Account').describe();
  out.describe = { name: describe.name, keyPrefix: describe.keyPrefix, fields: describe.fields.map((f) => f.name) };

  out.deleted = await conn.sobject('Account').destroy(created.id);

  await waitFor(() => cdc.length >= 3, 'three change events');
  await waitFor(() => topicEvents.length >= 3, 'three PushTopic events');
  await new Promise((r) => setTimeout(r, 500)); // anything more would show up here
  out.cdc = cdc;
  out.topicEvents = topicEvents;
  console.log(JSON.stringify(out));
  clearTimeout(deadline);
  process.exit(0);
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  console.log(JSON.stringify(out));
  process.exit(1);
}
