// Package protocol holds the wire types shared by server and SDK, pinned by
// golden files: the RFC 6749 §5.1 token answer and §5.2 error, the RFC 7662
// introspection answer, RFC 9457 problem details, the revocation feed page
// and the whoami answer. It also holds the hand-written encoders of the two
// hottest answers, which a test keeps in step with encoding/json.
package protocol
