package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/nexo-org/nexo-bot/api"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

// readPath is how a read-only terminal command (dora, audit) reads nexo's
// records: the store directly, or, when a running bot holds the bolt file
// (or --server / NEXO_API_URL says so), through that bot's API. Exactly one
// of Store and API is set.
type readPath struct {
	Store store.Store
	API   *api.Client
	close func()
	// fallback is true when the API is used because the file was locked.
	fallback bool
	path     string // the bolt file, for messages
}

func (r *readPath) Close() {
	if r.close != nil {
		r.close()
	}
}

// openReadPath picks the read path. server is --server (empty: $NEXO_API_URL).
// openStore opens the store directly (the command's own rules, e.g. dora's
// missing-file case).
func openReadPath(ctx context.Context, cfg *config.Config, server string, stderr io.Writer,
	openStore func(context.Context, config.Store) (store.Store, func(), error)) (*readPath, error) {
	if server == "" {
		server = os.Getenv(api.URLEnv)
	}
	token := os.Getenv(api.TokenEnv)
	if server != "" {
		if token == "" {
			return nil, fmt.Errorf("reading through the bot's API at %s needs %s: set it to the token the bot was started with", server, api.TokenEnv)
		}
		return &readPath{API: &api.Client{BaseURL: server, Token: token}}, nil
	}
	st, closeStore, err := openStore(ctx, cfg.Store)
	if err == nil {
		return &readPath{Store: st, close: closeStore}, nil
	}
	if !errors.Is(err, boltstore.ErrLocked) {
		return nil, err
	}
	path := cfg.Store.Path
	if cfg.Server.Listen == "" {
		return nil, fmt.Errorf("%s is locked by another process (a running nexo bot?), and the config has no server.listen to reach that bot's API: "+
			"stop the bot, or run this where it runs with server.listen set and %s exported, or pass --server URL", path, api.TokenEnv)
	}
	base := api.BaseURLFor(cfg.Server.Listen)
	if token == "" {
		return nil, fmt.Errorf("%s is locked by another process (a running nexo bot?). To read through the bot's API at %s, export %s with the token the bot was started with "+
			"(and pass --server URL if the bot is not at that address); or stop the bot", path, base, api.TokenEnv)
	}
	fmt.Fprintf(stderr, "note: %s is held by the running bot; reading through its API at %s\n", path, base)
	return &readPath{API: &api.Client{BaseURL: base, Token: token}, fallback: true, path: path}, nil
}

// explain turns an API failure into what the user should do; refusal
// reports whether it is bad input (exit 2).
func (r *readPath) explain(err error) (msg string, refusal bool) {
	base := r.API.BaseURL
	prefix := ""
	if r.fallback {
		prefix = r.path + " is locked by the running bot, and its API "
	} else {
		prefix = "the bot's API "
	}
	var apiErr *api.Error
	switch {
	case errors.Is(err, api.ErrUnreachable):
		return fmt.Sprintf("%sat %s does not answer (%v): pass --server URL with the bot's server.listen address, or stop the bot and run again", prefix, base, errors.Unwrap(err)), false
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%sat %s refused %s: export the same token the bot was started with", prefix, base, api.TokenEnv), false
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return fmt.Sprintf("%sat %s is off (%s): restart the bot with %s set, or stop it and run again", prefix, base, apiErr.Message, api.TokenEnv), false
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest:
		return apiErr.Message, true
	case errors.As(err, &apiErr):
		return fmt.Sprintf("the bot at %s answered: %s", base, apiErr.Message), false
	}
	return err.Error(), false
}
