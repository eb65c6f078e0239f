package server

import (
	"log/slog"

	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/redisstore"
)

func openRedis(cfg *config.API, log *slog.Logger) (store.Store, error) {
	return redisstore.Open(redisstore.Options{
		URL:                cfg.RedisURL,
		Password:           cfg.RedisPassword,
		KeyPrefix:          cfg.RedisKeyPrefix,
		TLSCAFile:          cfg.RedisTLSCA,
		InsecureSkipVerify: cfg.RedisTLSSkip,
	}, log)
}
