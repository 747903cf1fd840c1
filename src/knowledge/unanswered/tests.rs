use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::draft::{free_id, slug, title_from};
use super::*;
use crate::knowledge::article::parse_article;
use crate::knowledge::editor::ArticleInput;

/// A small knowledge base in the shop's usual words, so function words and
/// shop vocabulary ("pedido", "envío", "tienda") weigh little.
fn corpus() -> Corpus {
    let articles = [
        (
            "envios",
            "---\ntitle: Tiempos de envío\nquestions:\n  - ¿Cuánto tarda en llegar mi pedido?\n---\n\
             Tu pedido llega en 3 a 5 días hábiles a cualquier parte del país. El envío es gratis en compras de más de $999.\n",
        ),
        (
            "devoluciones",
            "---\ntitle: Devoluciones\nquestions:\n  - ¿Cómo devuelvo un producto?\n---\n\
             Puedes devolver tu pedido en los primeros 30 días en la tienda o por paquetería, con el ticket de compra.\n",
        ),
        (
            "tiendas",
            "---\ntitle: Tiendas y horarios\nquestions:\n  - ¿A qué hora abren la tienda?\n---\n\
             Nuestras tiendas abren de lunes a domingo de 10 a 20 horas. En la tienda puedes recoger tu pedido.\n",
        ),
        (
            "pagos",
            "---\ntitle: Métodos de pago\nquestions:\n  - ¿Qué tarjetas aceptan?\n---\n\
             Aceptamos tarjetas de crédito y débito, pago en efectivo en la tienda y transferencia.\n",
        ),
    ];
    let articles: Vec<Arc<Article>> = articles
        .iter()
        .map(|(id, text)| Arc::new(parse_article(id, text).expect("valid test article")))
        .collect();
    Corpus::from_articles(&articles)
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn asked(texts: &[&str]) -> Vec<Asked> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Asked {
            turn_id: i as i64 + 1,
            text: (*text).to_owned(),
            lang: Some("es".into()),
            at: at(i as i64),
        })
        .collect()
}

fn group_of<'a>(groups: &'a [QuestionGroup], text: &str) -> &'a QuestionGroup {
    groups
        .iter()
        .find(|g| g.examples.iter().any(|e| e == text))
        .unwrap_or_else(|| panic!("{text:?} is in no group: {groups:#?}"))
}

const PETS: [&str; 3] = [
    "¿Puedo entrar con mi perro a la tienda?",
    "se puede entrar a la tienda con perros?",
    "Aceptan perritos o perros en sus tiendas",
];
const BIKES: [&str; 2] = [
    "¿Tienen lugar para dejar la bicicleta?",
    "hay donde dejar bicicletas afuera",
];

#[test]
fn paraphrases_group_together_and_other_topics_stay_apart() {
    let mut texts: Vec<&str> = PETS.to_vec();
    texts.extend(BIKES);
    texts.push("¿Venden boletos para el concierto?");
    let groups = group_questions(&asked(&texts), &corpus());
    assert_eq!(groups.len(), 3, "{groups:#?}");
    let pets = group_of(&groups, PETS[0]);
    assert_eq!(pets.count, 3);
    for text in PETS {
        assert!(pets.examples.iter().any(|e| e == text), "{pets:#?}");
    }
    let bikes = group_of(&groups, BIKES[0]);
    assert_eq!(bikes.count, 2, "{bikes:#?}");
    assert!(bikes.examples.contains(&BIKES[1].to_owned()));
    assert_eq!(
        group_of(&groups, "¿Venden boletos para el concierto?").count,
        1
    );
    // Largest group first.
    assert_eq!(groups[0].count, 3);
}

#[test]
fn sharing_a_common_shop_word_is_not_enough() {
    // Both mention the store and an order, which every article does.
    let texts = [
        "¿Puedo entrar con mi perro a la tienda?",
        "¿Puedo pagar mi pedido en la tienda con vales de despensa?",
    ];
    let groups = group_questions(&asked(&texts), &corpus());
    assert_eq!(groups.len(), 2, "{groups:#?}");
}

#[test]
fn accents_case_stretched_letters_and_line_breaks_do_not_matter() {
    let texts = [
        "Aceptan PERROS en la TIENDA???",
        "aceptan perros en la tienda",
        "aceptan\nperrooos en la tiendaaa",
    ];
    let groups = group_questions(&asked(&texts), &corpus());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0].count, 3);
}

#[test]
fn a_group_counts_turns_lists_languages_and_drafts_an_article() {
    let mut turns = asked(&PETS);
    // The first question asked again later, by a customer writing English
    // elsewhere in the conversation.
    turns.push(Asked {
        turn_id: 10,
        text: PETS[0].to_owned(),
        lang: Some("en".into()),
        at: at(30),
    });
    let groups = group_questions(&turns, &corpus());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let group = &groups[0];
    assert_eq!(group.count, 4);
    assert_eq!(group.languages, ["es", "en"]);
    assert_eq!(group.latest_at, at(30));
    // The same text twice is one example.
    assert_eq!(group.examples.len(), 3, "{group:#?}");
    assert_eq!(group.examples[0], group.representative);
    assert!(PETS.contains(&group.representative.as_str()));

    let draft = &group.draft;
    assert_eq!(draft.title, title_from(&group.representative));
    assert_eq!(draft.questions, group.examples);
    assert_eq!(draft.lang.as_deref(), Some("es"));
    assert!(
        draft.id.contains("perro") && draft.id.contains("tienda"),
        "{draft:#?}"
    );
    assert!(
        draft.markdown.starts_with("---\ntitle:") && draft.markdown.contains("questions:"),
        "{}",
        draft.markdown
    );
    // The draft passes the editors' validation once the answer is written.
    let input = ArticleInput {
        title: draft.title.clone(),
        questions: draft.questions.clone(),
        lang: draft.lang.clone(),
        body: "Las mascotas con correa son bienvenidas.".into(),
        ..ArticleInput::default()
    };
    crate::knowledge::editor::validate(&draft.id, &input).expect("a valid article");
}

#[test]
fn messages_without_topic_words_are_left_out() {
    let groups = group_questions(&asked(&["¿y eso?", "ok gracias", "🙂", PETS[0]]), &corpus());
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0].representative, PETS[0]);
    assert!(group_questions(&[], &corpus()).is_empty());
}

#[test]
fn an_empty_knowledge_base_weighs_every_word_alike() {
    let groups = group_questions(&asked(&[PETS[0], PETS[1], BIKES[0]]), &Corpus::default());
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert_eq!(group_of(&groups, PETS[1]).count, 2);
}

#[test]
fn draft_ids_avoid_existing_articles_and_each_other() {
    let mut taken: HashSet<String> = ["perro-tienda".to_owned()].into();
    assert_eq!(free_id("perro-tienda", &mut taken), "perro-tienda-2");
    assert_eq!(free_id("perro-tienda", &mut taken), "perro-tienda-3");
    assert_eq!(
        slug("¿Puedo entrar con mi perro a la tienda?"),
        "entrar-perro-tienda"
    );
    assert_eq!(slug("¿?"), "article");
    assert_eq!(slug("Ñandú señal montaña"), "nandu-senal-montana");
}

#[test]
fn titles_start_with_a_capital_and_long_ones_are_cut() {
    assert_eq!(
        title_from("¿puedo entrar con mi perro?"),
        "¿Puedo entrar con mi perro?"
    );
    let long = "quisiera saber si puedo entrar con mi perro a la tienda de la colonia roma porque vamos seguido a pasear por ahí";
    let title = title_from(long);
    assert!(title.chars().count() <= MAX_TITLE_CHARS + 1, "{title}");
    assert!(
        title.ends_with('…') && title.starts_with("Quisiera"),
        "{title}"
    );
}

#[test]
fn shop_words_weigh_less_than_words_no_article_uses() {
    let corpus = corpus();
    let lexicon = Lexicon::builtin();
    assert!(corpus.weight(&concept_key("pedido", lexicon)) < corpus.weight("perro"));
    assert!(corpus.weight(&concept_key("tienda", lexicon)) < corpus.weight("bicicleta"));
    // Glossary synonyms share a key; plurals fold.
    assert_eq!(
        concept_key("sucursal", lexicon),
        concept_key("tiendas", lexicon)
    );
    assert_eq!(concept_key("perros", lexicon), "perro");
}
