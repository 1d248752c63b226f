// Package web holds front-end files checked in from elsewhere: the vendored
// Redoc bundle the console's API reference page runs (see
// vendor/redoc/README.md for its origin and license).
package web

import _ "embed"

// Redoc is Redoc 2.5.4's standalone bundle.
//
//go:embed vendor/redoc/redoc.standalone.js
var Redoc []byte

// RedocLicense is Redoc's MIT license and its bundle's third-party notices.
//
//go:embed vendor/redoc/LICENSE
var RedocLicense []byte
