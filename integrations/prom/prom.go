// Package prom queries Prometheus through client_golang's API client.
package prom

import (
	"context"
	"time"
)

// Point is one sample.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Client is what nexo asks Prometheus.
type Client interface {
	// Scalar evaluates an instant query and returns the single value
	// (the sum when the vector has several series; ok=false when empty).
	Scalar(ctx context.Context, query string, at time.Time) (value float64, ok bool, err error)
	// Range evaluates a range query and returns the first series (summed
	// over series per timestamp when several).
	Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Point, error)
}
