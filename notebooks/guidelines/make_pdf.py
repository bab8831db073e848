"""Write ``asthma.pdf`` (one page of text) with matplotlib; its text is below.

Run ``python notebooks/guidelines/make_pdf.py`` to regenerate it. The text is CC0 1.0
(see ``LICENSE``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("pdf")
matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType: the text can be extracted again

import matplotlib.pyplot as plt  # noqa: E402

TEXT = """Asthma in adults

Asthma is a long-term condition of the airways. Typical symptoms are wheezing,
shortness of breath, chest tightness and a cough that is worse at night.
Symptoms come and go and are triggered by exercise, cold air, allergens or infections.

Diagnosis rests on the history and on variable airflow obstruction measured by spirometry.
Fever is not a feature of asthma; with fever and coloured sputum, think of an infection."""


def main() -> None:
    fig = plt.figure(figsize=(8.27, 11.69))  # A4, inches
    fig.text(0.08, 0.95, TEXT, va="top", ha="left", fontsize=10, family="DejaVu Sans", wrap=True)
    out = Path(__file__).with_name("asthma.pdf")
    fig.savefig(out, metadata={"Title": "Asthma in adults", "CreationDate": None})
    plt.close(fig)


if __name__ == "__main__":
    main()
