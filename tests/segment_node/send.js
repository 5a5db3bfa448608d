// Sends the calls given on stdin with Segment's official Node.js client (@segment/analytics-node),
// flushes them, and prints what happened as JSON: every answer the server gave (status and body, seen
// through the client's own HTTP client) and every error the client reported.
//
// stdin: {"host": "http://127.0.0.1:PORT", "writeKey": "...", "calls": [{"method": "track", "args": {...}}]}
"use strict";

const { Analytics, FetchHTTPClient } = require("@segment/analytics-node");

class RecordingHTTPClient extends FetchHTTPClient {
  constructor(answers) {
    super();
    this.answers = answers;
  }

  async makeRequest(options) {
    const response = await super.makeRequest(options);
    this.answers.push({ status: response.status, body: await response.clone().text() });
    return response;
  }
}

async function main() {
  const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const answers = [];
  const errors = [];
  const analytics = new Analytics({
    writeKey: input.writeKey,
    host: input.host,
    flushInterval: 60000, // nothing leaves before closeAndFlush: one batch per run
    maxRetries: 0,
    httpClient: new RecordingHTTPClient(answers),
  });
  analytics.on("error", (error) => errors.push(String(error.reason ?? error.code ?? error)));
  for (const call of input.calls) {
    analytics[call.method](call.args);
  }
  await analytics.closeAndFlush({ timeout: 30000 });
  process.stdout.write(JSON.stringify({ answers, errors }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
