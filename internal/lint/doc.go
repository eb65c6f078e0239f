// Package lint holds repository-wide checks that run as tests: every package
// has a doc comment, and every exported identifier has one too. It has no
// code of its own.
package lint
