// Package store defines the records Tessera keeps and the small interfaces a
// storage backend implements. Backends live in subpackages named after their
// technology and register a URL scheme (store.Open, store.OpenMigrator) when
// imported, so this package imports no driver; store/storetest is the
// conformance suite every backend runs. Backends offer atomic primitives and
// hold no policy: refresh rotation, for one, applies the plan a
// caller-supplied decision returns.
package store
