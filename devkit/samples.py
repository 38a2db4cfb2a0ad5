"""A few short news articles in languages the default model was not trained on, for the demo
and the review-routing tests (written for this project; the Debian-sourced texts in
:mod:`devkit.langdata` are the larger check)."""

from __future__ import annotations

FOREIGN_ARTICLES: list[dict[str, str]] = [
    {
        "id": "foreign-de",
        "language": "de",
        "title": "Stadtrat beschließt neuen Haushalt",
        "text": (
            "Der Stadtrat hat am Dienstagabend nach langer Debatte den Haushalt für das "
            "kommende Jahr verabschiedet. Die Opposition kritisierte die geplanten Kürzungen "
            "bei den Schulen und forderte mehr Geld für den öffentlichen Nahverkehr. Der "
            "Bürgermeister verteidigte den Sparkurs und erklärte, die Stadt müsse ihre "
            "Schulden in den nächsten fünf Jahren deutlich verringern."
        ),
    },
    {
        "id": "foreign-es",
        "language": "es",
        "title": "El equipo local gana la final en el último minuto",
        "text": (
            "El equipo local se proclamó campeón el domingo tras marcar un gol en el último "
            "minuto de la prórroga. Miles de aficionados celebraron la victoria en las calles "
            "del centro de la ciudad hasta bien entrada la noche. El entrenador dedicó el "
            "título a los jugadores lesionados durante la temporada y pidió calma a la "
            "afición de cara al próximo campeonato."
        ),
    },
    {
        "id": "foreign-it",
        "language": "it",
        "title": "La banca centrale lascia invariati i tassi",
        "text": (
            "La banca centrale ha deciso giovedì di lasciare invariati i tassi di interesse, "
            "come previsto dalla maggior parte degli analisti. Il presidente ha spiegato che "
            "l'inflazione è in calo ma resta sopra l'obiettivo, e che le prossime decisioni "
            "dipenderanno dai dati economici dei mesi invernali. Le borse europee hanno "
            "chiuso la giornata in leggero rialzo."
        ),
    },
    {
        "id": "foreign-tr",
        "language": "tr",
        "title": "Yeni telefon modeli tanıtıldı",
        "text": (
            "Şirket, yeni akıllı telefon modelini salı günü düzenlenen bir etkinlikte "
            "tanıttı. Cihazın daha uzun pil ömrüne ve geliştirilmiş bir kameraya sahip "
            "olduğu açıklandı. Yöneticiler, telefonun önümüzdeki ay mağazalarda satışa "
            "çıkacağını ve fiyatının geçen yılki modelle aynı kalacağını söyledi."
        ),
    },
]
