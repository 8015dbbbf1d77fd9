// Package merchantadmin is the contract between operators (cmd/merchant)
// and the merchant-keys function (cmd/merchantkeys): the requests an
// operator invokes the function with and what it answers. It imports only
// the standard library.
package merchantadmin

import "time"

// Actions of a Request.
const (
	Onboard  = "onboard"
	Offboard = "offboard"
	List     = "list"
)

// Request is an operator's request.
type Request struct {
	// Action is Onboard, Offboard or List.
	Action     string `json:"action"`
	MerchantID string `json:"merchantId,omitempty"`
	// CertificatePEM is the merchant's client certificate (Onboard): the
	// merchant is registered with its subject and issuer.
	CertificatePEM string `json:"certificatePem,omitempty"`
	// Reader, optional (Onboard), is the ARN of the merchant's IAM role or
	// user, in any account, that may read the merchant's secret.
	Reader string `json:"reader,omitempty"`
}

// Rotation states of a Merchant.
const (
	// RotationStarted: the first key is being created.
	RotationStarted = "started"
	// RotationEnabled: the key rotates every RotationDays.
	RotationEnabled = "enabled"
	// Deleted: the merchant was offboarded.
	Deleted = "deleted"
)

// Merchant is what the function reports of a merchant.
type Merchant struct {
	MerchantID  string     `json:"merchantId"`
	SecretArn   string     `json:"secretArn"`
	Rotation    string     `json:"rotation"`
	LastRotated *time.Time `json:"lastRotated,omitempty"`
}

// Response answers a Request.
type Response struct {
	Merchants []Merchant `json:"merchants"`
}

// RotationDays is how often every merchant's API key rotates; the previous
// key keeps working for as long again.
const RotationDays = 30
