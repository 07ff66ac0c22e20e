// Regenerates TestStablecoin.json from TestStablecoin.sol. Not part of `make test`: the JSON is
// committed. Run once after changing the contract, with the pinned solc-js:
//
//   d=$(mktemp -d) && npm install --prefix "$d" --ignore-scripts solc@0.8.37 \
//     && NODE_PATH="$d/node_modules" node testing/artifacts/compile.cjs
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const SOURCE = "TestStablecoin.sol";
const CONTRACT = "TestStablecoin";
const OPTIMIZER = { enabled: true, runs: 200 };
const EVM_VERSION = "paris"; // no PUSH0: deployable on any EVM node, old or new

const here = __dirname;
const input = {
  language: "Solidity",
  sources: { [SOURCE]: { content: fs.readFileSync(path.join(here, SOURCE), "utf8") } },
  settings: {
    optimizer: OPTIMIZER,
    evmVersion: EVM_VERSION,
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);
const contract = output.contracts[SOURCE][CONTRACT];
const artifact = {
  contractName: CONTRACT,
  source: SOURCE,
  compiler: `solc-js ${solc.version()}`,
  evmVersion: EVM_VERSION,
  optimizer: OPTIMIZER,
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
fs.writeFileSync(path.join(here, CONTRACT + ".json"), JSON.stringify(artifact, null, 2) + "\n");
process.stdout.write(`wrote ${CONTRACT}.json with ${artifact.compiler}\n`);
