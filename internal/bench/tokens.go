package bench

import (
	"fmt"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

var setLoader sync.Once

// CL100K returns a TokenCounter for OpenAI's cl100k_base encoding (GPT-4's),
// loaded from the vocabulary embedded in tiktoken-go-loader: no network. It
// is safe for concurrent use.
func CL100K() (TokenCounter, error) {
	setLoader.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
	enc, err := tiktoken.GetEncoding("cl100k_base")
	if err != nil {
		return nil, fmt.Errorf("cl100k_base: %w", err)
	}
	return func(s string) int { return len(enc.EncodeOrdinary(s)) }, nil
}

// CountAll counts the tokens of each text with count, on up to workers
// goroutines.
func CountAll(texts []string, count TokenCounter, workers int) []int {
	out := make([]int, len(texts))
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(texts); i += workers {
				out[i] = count(texts[i])
			}
		}(w)
	}
	wg.Wait()
	return out
}
