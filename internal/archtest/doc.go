// Package archtest holds the test that keeps the house's rules from the imports: the domain
// imports only the standard library, the store and the matcher link no HTTP stack, the HTTP
// layer links no cgo package of the project, and no test-only build hook lives in production
// code. See docs/architecture.md.
package archtest
