// Package httpapi is the admin API under /admin/v1 on the admin listener:
// JSON in and out, bearer authentication with an admin credential, every
// mutation audited in the same transaction as the change, and the OpenAPI
// 3.1 document that describes exactly these routes.
package httpapi
