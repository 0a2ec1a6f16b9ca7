'use strict';
// versions.js: prints the runtime, framework and server versions of this target as one JSON object
// (manifest [versions] command; read from the installed packages, not hard-coded).

const fs = require('node:fs');
const path = require('node:path');

const PACKAGES = process.argv.slice(2);
const out = { node: process.versions.node, v8: process.versions.v8, openssl: process.versions.openssl };
for (const name of PACKAGES) {
  const file = path.join(__dirname, 'node_modules', name, 'package.json');
  try {
    out[name] = JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch (e) {
    console.error(`error: ${name} is not installed (${file}): run the target's install first`);
    process.exit(1);
  }
}
console.log(JSON.stringify(out));
