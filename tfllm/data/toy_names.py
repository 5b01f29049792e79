"""Names and cities for the toy datasets (tagging, span QA): non-ASCII letters included
(Zoë, Nguyễn, São Paulo, Łódź), so a small learned WordPiece vocabulary splits them."""

FIRST_NAMES = ["Anna", "Zoë", "Jürgen", "Mohammed", "Siobhán", "Bartholomew", "Oluwaseun",
               "Li", "Ingrid", "José", "Kwame", "Priya"]
SURNAMES = ["Smith", "Nguyễn", "Wojciechowski", "García", "Okonkwo", "Müller", "Haraldsdóttir",
            "Kim"]
CITIES = ["Paris", "São Paulo", "Kraków", "New York", "Reykjavík", "Łódź", "Ouagadougou",
          "Kuala Lumpur", "Lagos", "Tokyo", "Saint Petersburg", "Zürich"]
