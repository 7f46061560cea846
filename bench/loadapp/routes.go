package main

import "github.com/fiberlogto/sdk/logto"

// ctx is what the handlers use of a request, the same methods on Fiber
// v2's *fiber.Ctx and v3's fiber.Ctx.
type ctx interface {
	Set(key, val string)
	Send(body []byte) error
	JSON(data any, ctype ...string) error
}

// route is a GET route of either major: C is its context type.
type route[C ctx] struct {
	path   string
	handle func(c C) error
}

// mount puts mw (when not nil) and then routes on an app of either major,
// through its app.Use (use) and app.Get (get).
func mount[C ctx](mw func(C) error, routes []route[C], use func(mw func(C) error), get func(path string, h func(C) error)) {
	if mw != nil {
		use(mw)
	}
	for _, r := range routes {
		get(r.path, r.handle)
	}
}

// logtoRoutes are the fiberlogto app's: /user is the example app's
// handler, fiberlogto.SendUser (sendUser), and /user-json the same
// context through c.JSON(fiberlogto.User(c)) (user), which loadapp checks
// answers the same body.
func logtoRoutes[C ctx](sendUser func(C) error, user func(C) *logto.UserContext) []route[C] {
	return []route[C]{
		{"/user", func(c C) error {
			c.Set("Cache-Control", "no-store")
			return sendUser(c)
		}},
		{"/user-json", func(c C) error {
			c.Set("Cache-Control", "no-store")
			return c.JSON(user(c))
		}},
	}
}

// bareRoutes are the bare app's: /user answers body as it is and
// /user-json the same JSON built by c.JSON from user, the way the
// fiberlogto app's /user-json builds it.
func bareRoutes[C ctx](body []byte, user *logto.UserContext) []route[C] {
	return []route[C]{
		{"/user", func(c C) error {
			c.Set("Cache-Control", "no-store")
			c.Set("Content-Type", "application/json")
			return c.Send(body)
		}},
		{"/user-json", func(c C) error {
			c.Set("Cache-Control", "no-store")
			return c.JSON(user)
		}},
	}
}

// apiRoutes are an API's: /api/data answers body, behind the middleware.
func apiRoutes[C ctx](body []byte) []route[C] {
	return []route[C]{
		{"/api/data", func(c C) error {
			c.Set("Cache-Control", "no-store")
			c.Set("Content-Type", "application/json")
			return c.Send(body)
		}},
	}
}
