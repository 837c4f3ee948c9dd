package bench

import (
	"fmt"

	"github.com/baarcore/baar/scoring"
)

// TrainExamples turns the train split of sets into training examples. With
// only set, just that dataset is used; with balance, each dataset's examples
// weigh in total as much as the average dataset; with groups, examples carry
// their item's Group, or the dataset's name for items without one, to train
// the domain classifier (see scoring.Example).
func TrainExamples(sets []Dataset, only string, balance, groups bool) ([]scoring.Example, error) {
	var train []Dataset
	total := 0
	for _, d := range sets {
		if only != "" && d.Name != only {
			continue
		}
		d = d.Select(SplitTrain)
		if len(d.Items) == 0 {
			continue
		}
		train = append(train, d)
		total += len(d.Items)
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("no training examples (only=%q)", only)
	}
	var ex []scoring.Example
	for _, d := range train {
		w := 1.0
		if balance {
			w = float64(total) / float64(len(train)) / float64(len(d.Items))
		}
		for _, it := range d.Items {
			ex = append(ex, scoring.Example{
				Request:        scoring.Request{Messages: []scoring.Message{{Role: scoring.RoleHuman, Text: it.Prompt}}},
				CheapCorrect:   it.CheapCorrect,
				CapableCorrect: it.CapableCorrect,
				Weight:         w,
				Group:          group(d.Name, it, groups),
			})
		}
	}
	return ex, nil
}

func group(dataset string, it Item, use bool) string {
	switch {
	case !use:
		return ""
	case it.Group != "":
		return it.Group
	}
	return dataset
}
