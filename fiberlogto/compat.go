package fiberlogto

import "github.com/fiberlogto/sdk/logto"

// The vocabulary shared with the Fiber v3 adapter lives in package
// github.com/fiberlogto/sdk/logto; these names are the same types and
// values, kept here as this package had them before.
type (
	// UserContext is what WithLogto puts in c.Locals: see logto.UserContext.
	UserContext = logto.UserContext
	// RawClaims is a JSON object kept as Logto sent it: see logto.RawClaims.
	RawClaims = logto.RawClaims
	// IDTokenClaims are the claims of Logto's ID tokens: see logto.IDTokenClaims.
	IDTokenClaims = logto.IDTokenClaims
	// FetchOptions ask for more than the claims: see logto.FetchOptions.
	FetchOptions = logto.FetchOptions
	// SignInOptions are Logto's extra sign-in parameters: see logto.SignInOptions.
	SignInOptions = logto.SignInOptions
	// DirectSignIn sends the user straight to a connector: see logto.DirectSignIn.
	DirectSignIn = logto.DirectSignIn
	// Leaser is a storage that grants leases: see logto.Leaser.
	Leaser = logto.Leaser
)

// The sentinel errors: see package logto.
var (
	ErrConfig              = logto.ErrConfig
	ErrInvalidCallback     = logto.ErrInvalidCallback
	ErrIssuerMismatch      = logto.ErrIssuerMismatch
	ErrAuthorizationDenied = logto.ErrAuthorizationDenied
	ErrInvalidGrant        = logto.ErrInvalidGrant
	ErrInvalidIDToken      = logto.ErrInvalidIDToken
	ErrInvalidClient       = logto.ErrInvalidClient
	ErrProviderResponse    = logto.ErrProviderResponse
	ErrProviderUnavailable = logto.ErrProviderUnavailable
	ErrProviderTimeout     = logto.ErrProviderTimeout
	ErrStorage             = logto.ErrStorage
	ErrCrossSiteRequest    = logto.ErrCrossSiteRequest
	ErrNotAuthenticated    = logto.ErrNotAuthenticated
	ErrNoToken             = logto.ErrNoToken
)

// Reserved scopes and resources: see package logto.
const (
	ScopeOpenID            = logto.ScopeOpenID
	ScopeOfflineAccess     = logto.ScopeOfflineAccess
	ScopeProfile           = logto.ScopeProfile
	ScopeEmail             = logto.ScopeEmail
	ScopePhone             = logto.ScopePhone
	ScopeRoles             = logto.ScopeRoles
	ScopeCustomData        = logto.ScopeCustomData
	ScopeIdentities        = logto.ScopeIdentities
	ScopeOrganizations     = logto.ScopeOrganizations
	ScopeOrganizationRoles = logto.ScopeOrganizationRoles
	ResourceOrganizations  = logto.ResourceOrganizations
)
