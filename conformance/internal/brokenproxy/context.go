package brokenproxy

import "context"

type thresholdKey struct{}

func withThreshold(ctx context.Context, t float64) context.Context {
	return context.WithValue(ctx, thresholdKey{}, t)
}

func thresholdOf(ctx context.Context) (float64, bool) {
	t, ok := ctx.Value(thresholdKey{}).(float64)
	return t, ok
}
