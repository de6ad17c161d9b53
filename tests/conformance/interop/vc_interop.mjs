// Checks and issues W3C VC 2.0 credentials with Digital Bazaar's libraries
// (@digitalbazaar/vc, data-integrity, eddsa-jcs-2022-cryptosuite): the independent
// implementation tests/conformance/test_interop.py holds the kit's credentials against.
//
// stdin: {"mode": "verify", "credential", "controller", "contexts": {url: document}}
//     -> {"verified": bool, "errors": [..], "requested": [urls the loader was asked for]}
//        {"mode": "issue", "credential" (unsigned), "issuer", "created"}
//     -> {"credential" (signed), "publicKeyMultibase", "verificationMethod"}
// Every document comes from the bundled contexts or the input: the loader never fetches.
import fs from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createSignCryptosuite, createVerifyCryptosuite}
  from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {contexts as credentialContexts} from '@digitalbazaar/credentials-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import securityContext from '@digitalbazaar/security-context';

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const documents = new Map([...credentialContexts, ...securityContext.contexts,
                           [multikeyContext.CONTEXT_URL, multikeyContext.CONTEXT]]);
for (const [url, document] of Object.entries(input.contexts || {})) documents.set(url, document);
const requested = [];

function publish(controller) {
  documents.set(controller.id, controller);
  for (const method of controller.verificationMethod) {
    documents.set(method.id, {'@context': controller['@context'], ...method});
  }
}

async function documentLoader(url) {
  requested.push(url);
  if (!documents.has(url)) throw new Error(`not bundled (no network here): ${url}`);
  return {contextUrl: null, documentUrl: url, document: documents.get(url)};
}

function messages(error) {
  if (!error) return [];
  const list = error.errors || [error];
  return list.map((e) => String(e && e.message || e));
}

if (input.mode === 'verify') {
  publish(input.controller);
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  const result = await vc.verifyCredential({
    credential: input.credential, suite, documentLoader,
    now: input.now ? new Date(input.now) : undefined});
  console.log(JSON.stringify({verified: result.verified, errors: messages(result.error),
                              requested}));
} else if (input.mode === 'issue') {
  const key = await Ed25519Multikey.generate({controller: input.issuer});
  key.id = `${input.issuer}#${key.publicKeyMultibase}`;
  publish({'@context': ['https://w3id.org/security/v2', multikeyContext.CONTEXT_URL],
           id: input.issuer, assertionMethod: [key.id],
           verificationMethod: [await key.export({publicKey: true, includeContext: false})]});
  const suite = new DataIntegrityProof({signer: key.signer(),
                                        cryptosuite: createSignCryptosuite(),
                                        date: input.created});
  const credential = await vc.issue({credential: input.credential, suite, documentLoader});
  console.log(JSON.stringify({credential, publicKeyMultibase: key.publicKeyMultibase,
                              verificationMethod: key.id}));
} else {
  throw new Error(`unknown mode ${input.mode}`);
}
