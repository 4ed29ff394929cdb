package assess

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

type surveyFile struct {
	ID         string        `yaml:"id"`
	Kind       string        `yaml:"kind"`
	Title      string        `yaml:"title"`
	FiscalYear int           `yaml:"fiscal_year"`
	Sections   []surveyGroup `yaml:"sections"`
}

type surveyGroup struct {
	ID    string       `yaml:"id"`
	Title string       `yaml:"title"`
	Items []surveyItem `yaml:"items"`
}

type surveyItem struct {
	ID      string     `yaml:"id"`
	Number  string     `yaml:"number,omitempty"`
	Text    string     `yaml:"text"`
	Help    string     `yaml:"help,omitempty"`
	Type    AnswerType `yaml:"type"`
	AllowNA bool       `yaml:"allow_na,omitempty"`
	Options []Option   `yaml:"options,omitempty"`
	Min     *float64   `yaml:"min,omitempty"`
	Max     *float64   `yaml:"max,omitempty"`
}

// BuildSurvey writes a survey edition file from items picked out of other
// editions: a checklist item becomes a はい/いいえ question (one answer,
// not per device class) with the same id, so answers line up with the
// checklists. The result is checked by ParseEdition like any other file.
func BuildSurvey(title string, fy int, picks []*Item) ([]byte, error) {
	title = strings.TrimSpace(title)
	if title == "" || utf8.RuneCountInString(title) > 200 {
		return nil, apperr.Field("title", "assess.survey.title_needed")
	}
	if len(picks) == 0 {
		return nil, apperr.Field("items", "assess.survey.items_needed")
	}
	g := surveyGroup{ID: "s1", Title: title}
	seen := map[string]bool{}
	for _, it := range picks {
		if seen[it.ID] {
			continue
		}
		seen[it.ID] = true
		si := surveyItem{ID: it.ID, Number: it.Number, Text: it.Text, Help: it.Help, Type: it.Type, AllowNA: it.AllowNA,
			Options: it.Options, Min: it.Min, Max: it.Max}
		if si.Type == TypeCheck || si.Type == "" {
			si.Type = TypeYesNo
		}
		if si.Number == "要確認" {
			si.Number = ""
		}
		g.Items = append(g.Items, si)
	}
	b, err := yaml.Marshal(surveyFile{ID: "survey-" + db.NewID(), Kind: KindSurvey, Title: title, FiscalYear: fy, Sections: []surveyGroup{g}})
	if err != nil {
		return nil, err
	}
	if _, err := ParseEdition("survey.yaml", b); err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "assess.edition.invalid", err.Error())
	}
	return b, nil
}
